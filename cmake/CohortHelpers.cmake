# cohort_cc_library(NAME name [HDRS ...] SRCS ... [DEPS ...] [TESTONLY])
#   -> target cohort_<name>, alias cohort::<name>. Include root is the repository root,
#      so sources include "common/sha256.h", "worker/prune/safetensors.h", ...
# cohort_cc_test(NAME name SRCS ... DEPS ...)
#   -> one gtest binary per library, registered with ctest through gtest_discover_tests.
function(cohort_cc_library)
  cmake_parse_arguments(ARG "TESTONLY" "NAME" "HDRS;SRCS;DEPS" ${ARGN})
  set(target cohort_${ARG_NAME})
  if(ARG_SRCS)
    add_library(${target} STATIC ${ARG_SRCS} ${ARG_HDRS})
    target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}/gen)
    target_link_libraries(${target} PUBLIC ${ARG_DEPS})
  else()
    add_library(${target} INTERFACE)
    target_include_directories(${target} INTERFACE ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}/gen)
    target_link_libraries(${target} INTERFACE ${ARG_DEPS})
  endif()
  add_library(cohort::${ARG_NAME} ALIAS ${target})
endfunction()

function(cohort_cc_test)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  if(NOT COHORT_BUILD_TESTS)
    return()
  endif()
  add_executable(${ARG_NAME} ${ARG_SRCS})
  set_target_properties(${ARG_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/tests)
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} cohort::common_testing GTest::gmock GTest::gtest_main)
  gtest_discover_tests(${ARG_NAME} DISCOVERY_TIMEOUT 60
    PROPERTIES ENVIRONMENT "COHORT_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endfunction()

# cohort_cc_binary(NAME exe SRCS ... DEPS ...) -> build/bin/<exe>
function(cohort_cc_binary)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS})
endfunction()
