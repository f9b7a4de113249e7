# Card-size drop-map benchmark: built, not registered with ctest.
#   build/bin/dropmap_perf [folder]   (writes a ~0.5 GB synthetic input there)
add_executable(dropmap_perf ${CMAKE_CURRENT_LIST_DIR}/dropmap_perf.cc)
target_link_libraries(dropmap_perf PRIVATE cohort::worker_prune)
