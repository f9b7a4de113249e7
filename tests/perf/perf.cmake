# Benchmarks: built with the project, never run by ctest. Each prints its
# numbers and the baseline it measured in the same run; see
# docs/PERFORMANCE.md for the commands.
include(${CMAKE_CURRENT_LIST_DIR}/dropmap.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/llama.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/coordinator.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/prune.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/sandbox.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/dashboard.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/relay.cmake)
