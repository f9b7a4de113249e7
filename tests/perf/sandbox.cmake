# Code-scoring benchmark: built, not registered with ctest.
#   build/bin/sandbox_perf DATASET [WORKERS]
# scores the 164 HumanEval canonical solutions through the sandbox and
# prints the wall time (docs/PERFORMANCE.md "## Code scoring").
add_executable(sandbox_perf ${CMAKE_CURRENT_LIST_DIR}/sandbox_perf.cc)
target_link_libraries(sandbox_perf PRIVATE cohort::worker_eval)
