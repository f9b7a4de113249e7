# Eval-driver benchmark against the fake llama-server: built, not run by ctest.
#   build/bin/llama_driver_perf [--slots N] [--latency-ms M] [--tokens T] [--rounds R]
# Run from the repository root (it starts tests/fakes/fake_llama_server).
add_executable(llama_driver_perf ${CMAKE_CURRENT_LIST_DIR}/llama_driver_perf.cc)
target_link_libraries(llama_driver_perf PRIVATE cohort::worker_llama)
