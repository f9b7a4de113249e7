# Coordinator benchmark (1,000 simulated workers against a real cohortd):
# built, not registered with ctest.
#   build/bin/coordinator_perf <empty folder> [full|normal] [workers] [result rows]
add_executable(coordinator_perf ${CMAKE_CURRENT_LIST_DIR}/coordinator_perf.cc)
target_link_libraries(coordinator_perf PRIVATE cohort::integration_support cohort::proto
                      cohort::server_coordinator)
add_dependencies(coordinator_perf cohortd)
