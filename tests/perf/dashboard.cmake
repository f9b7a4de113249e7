# The dashboard's load times on 100,000 steps and 10^6 result rows against a
# real cohortd (docs/PERFORMANCE.md): built, not registered with ctest.
#   build/bin/dashboard_perf <empty folder> [variants] [rows per score step]
add_executable(dashboard_perf ${CMAKE_CURRENT_LIST_DIR}/dashboard_perf.cc)
target_link_libraries(dashboard_perf PRIVATE cohort::integration_workers
                      cohort::integration_support cohort::proto
                      cohort::common_sqlite cohort::common CURL::libcurl)
add_dependencies(dashboard_perf cohortd cohort cohort-worker)
