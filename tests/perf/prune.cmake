# Fused prune+upweight vs cp of the same input: built, not registered with ctest.
#   build/bin/prune_perf <empty folder> [hidden] [moe_intermediate] [layers] [experts] [keep] [runs]
add_executable(prune_perf ${CMAKE_CURRENT_LIST_DIR}/prune_perf.cc)
target_link_libraries(prune_perf PRIVATE cohort::worker_prune absl::time)
