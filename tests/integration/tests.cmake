# The binaries answer --help and --version (exit 0) and refuse unknown flags
# with the usage exit code 2.
foreach(bin cohortd cohort-worker cohort)
  add_test(NAME binaries.${bin}.help COMMAND ${bin} --help)
  set_tests_properties(binaries.${bin}.help PROPERTIES PASS_REGULAR_EXPRESSION "${bin}:")
  add_test(NAME binaries.${bin}.version COMMAND ${bin} --version)
  set_tests_properties(binaries.${bin}.version PROPERTIES
    PASS_REGULAR_EXPRESSION "^${bin} ${PROJECT_VERSION}")
  add_test(NAME binaries.${bin}.bad_flag COMMAND ${bin} --no-such-flag)
  set_tests_properties(binaries.${bin}.bad_flag PROPERTIES WILL_FAIL TRUE)
endforeach()

# Multi-process tests: real cohortd (and later cohort-worker) processes on
# loopback ports.
cohort_cc_library(NAME integration_support TESTONLY
  HDRS integration/cohortd_process.h
  SRCS integration/cohortd_process.cc
  DEPS cohort::common cohort::proto gRPC::grpc++)
target_compile_definitions(cohort_integration_support PUBLIC
  COHORT_BIN_DIR="${CMAKE_BINARY_DIR}/bin")

cohort_cc_test(NAME integration_test
  SRCS integration/coordinator_integration_test.cc
  DEPS cohort::integration_support cohort::proto)
add_dependencies(integration_test cohortd cohort-worker cohort)

# cohortd + cohort-worker agents as real processes, tools faked.
cohort_cc_library(NAME integration_workers TESTONLY
  HDRS integration/worker_process.h
  SRCS integration/worker_process.cc
  DEPS cohort::integration_support cohort::common)
target_compile_definitions(cohort_integration_workers PUBLIC
  COHORT_FAKES_DIR="${PROJECT_SOURCE_DIR}/tests/fakes")

cohort_cc_test(NAME worker_integration_test
  SRCS integration/worker_integration_test.cc
  DEPS cohort::integration_workers cohort::integration_support cohort::proto
       cohort::worker_quant cohort::worker_llama_testing)
add_dependencies(worker_integration_test cohortd cohort-worker)

# The cohort CLI against a real cohortd.
include(${CMAKE_CURRENT_LIST_DIR}/client.cmake)

# cohortd's Prometheus /metrics endpoint.
include(${CMAKE_CURRENT_LIST_DIR}/metrics.cmake)

# The CLI's campaign commands (watch, retry, logs, workers, artifacts, export,
# manifest, reproduce, verify) around one shared small sweep.
cohort_cc_test(NAME cli_commands_integration_test
  SRCS integration/cli_commands_integration_test.cc
  DEPS cohort::integration_workers cohort::integration_support cohort::proto
       nlohmann_json::nlohmann_json)
add_dependencies(cli_commands_integration_test cohortd cohort-worker cohort)

# The README's demo sweep through the CLI with a coordinator kill in the middle.
cohort_cc_test(NAME demo_e2e_test
  SRCS integration/demo_e2e_test.cc
  DEPS cohort::integration_workers cohort::integration_support cohort::proto
       nlohmann_json::nlohmann_json)
add_dependencies(demo_e2e_test cohortd cohort-worker cohort)

# cohortd over TLS with a worker that verifies it, and with mTLS for the CLI.
cohort_cc_test(NAME tls_integration_test
  SRCS integration/tls_integration_test.cc
  DEPS cohort::integration_workers cohort::integration_support cohort::proto OpenSSL::SSL)
add_dependencies(tls_integration_test cohortd cohort-worker cohort)

# Token expiry and revocation, unsafe names and paths, request size limits
# against a real cohortd (and a real worker's artifact service).
cohort_cc_test(NAME security_integration_test
  SRCS integration/security_integration_test.cc
  DEPS cohort::integration_workers cohort::integration_support cohort::proto)
add_dependencies(security_integration_test cohortd cohort-worker)

# `cohort datasets` against a fake Hugging Face Hub, and on the repository's data/.
include(${CMAKE_CURRENT_LIST_DIR}/datasets.cmake)

# cohortd's web dashboard over HTTP(S) around one small sweep, checked
# against the CLI's own renderings. One ctest for the whole binary: its
# tests share the sweep (SetUpTestSuite), which one process runs once.
if(COHORT_BUILD_TESTS)
  add_executable(dashboard_integration_test integration/dashboard_integration_test.cc)
  set_target_properties(dashboard_integration_test PROPERTIES
    RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/tests)
  target_link_libraries(dashboard_integration_test PRIVATE cohort::integration_workers
    cohort::integration_support cohort::proto nlohmann_json::nlohmann_json CURL::libcurl
    absl::synchronization cohort::common_testing GTest::gmock GTest::gtest_main)
  add_dependencies(dashboard_integration_test cohortd cohort-worker cohort)
  add_test(NAME dashboard_integration_test COMMAND dashboard_integration_test)
  set_tests_properties(dashboard_integration_test PROPERTIES
    ENVIRONMENT "COHORT_SOURCE_DIR=${PROJECT_SOURCE_DIR}" TIMEOUT 600)
endif()
