# The plaintext relay against a direct loopback connection (docs/PERFORMANCE.md):
# built, not registered with ctest.
#   build/bin/relay_perf [MiB per connection] [connections]
add_executable(relay_perf ${CMAKE_CURRENT_LIST_DIR}/relay_perf.cc)
target_link_libraries(relay_perf PRIVATE cohort::server_service)
