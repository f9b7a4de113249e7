# Chaos trials: real cohortd + two workers + the llama.cpp fakes, with random
# kill -9 of cohortd, workers and llama-server, a worker cut off past its
# lease (SIGSTOP), network partitions through a cuttable loopback proxy and a
# slow disk (blkio throttle). ctest runs two short series, plaintext and
# mutual TLS (label "chaos", `ctest -L chaos`); COHORT_CHAOS_TRIALS sets the
# count for long series (docs/RELIABILITY.md).
if(COHORT_BUILD_TESTS)
  cohort_cc_library(NAME chaos_faults TESTONLY
    HDRS chaos/tcp_proxy.h chaos/slow_disk.h
    SRCS chaos/tcp_proxy.cc chaos/slow_disk.cc
    DEPS absl::status absl::statusor absl::strings absl::synchronization absl::time Threads::Threads)
  cohort_cc_test(NAME chaos_faults_test SRCS chaos/chaos_faults_test.cc DEPS cohort::chaos_faults)

  add_executable(chaos_test chaos/chaos_test.cc)
  set_target_properties(chaos_test PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/tests)
  target_link_libraries(chaos_test PRIVATE cohort::chaos_faults cohort::integration_workers
    cohort::integration_support cohort::proto cohort::common_testing nlohmann_json::nlohmann_json
    absl::strings absl::synchronization GTest::gtest_main)
  add_dependencies(chaos_test cohortd cohort-worker)
  add_test(NAME chaos.short_series COMMAND chaos_test)
  set_tests_properties(chaos.short_series PROPERTIES
    LABELS chaos TIMEOUT 600
    ENVIRONMENT "COHORT_SOURCE_DIR=${PROJECT_SOURCE_DIR};COHORT_CHAOS_TRIALS=3;COHORT_CHAOS_SEED=3")
  # The same over mutual TLS: the faults land on TLS connections, which
  # cohortd accepts itself and hands to gRPC (server/service/tls_acceptor.h).
  add_test(NAME chaos.short_series_tls COMMAND chaos_test)
  set_tests_properties(chaos.short_series_tls PROPERTIES
    LABELS chaos TIMEOUT 600
    ENVIRONMENT "COHORT_SOURCE_DIR=${PROJECT_SOURCE_DIR};COHORT_CHAOS_TRIALS=2;COHORT_CHAOS_SEED=4;COHORT_CHAOS_TLS=1")
endif()
