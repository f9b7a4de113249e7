# Chaos trials: real cohortd + two workers + the llama.cpp fakes, with random
# kill -9 of cohortd, workers and llama-server and a worker cut off past its
# lease. ctest runs a short series (label "chaos", `ctest -L chaos`);
# COHORT_CHAOS_TRIALS sets the count for long series (docs/RELIABILITY.md).
if(COHORT_BUILD_TESTS)
  add_executable(chaos_test chaos/chaos_test.cc)
  set_target_properties(chaos_test PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/tests)
  target_link_libraries(chaos_test PRIVATE cohort::integration_workers
    cohort::integration_support cohort::proto cohort::common_testing nlohmann_json::nlohmann_json
    absl::strings absl::synchronization GTest::gtest_main)
  add_dependencies(chaos_test cohortd cohort-worker)
  add_test(NAME chaos.short_series COMMAND chaos_test)
  set_tests_properties(chaos.short_series PROPERTIES
    LABELS chaos TIMEOUT 600
    ENVIRONMENT "COHORT_SOURCE_DIR=${PROJECT_SOURCE_DIR};COHORT_CHAOS_TRIALS=3;COHORT_CHAOS_SEED=3")
endif()
