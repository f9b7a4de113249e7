# A corpus of >= 100 malformed inputs across every input kind: each must fail
# with an error naming the file or field, and leave nothing behind.
cohort_cc_test(NAME malformed_inputs_test
  SRCS malformed/malformed_inputs_test.cc
  DEPS cohort::common cohort::client_spec cohort::worker_quant cohort::worker_llama
       nlohmann_json::nlohmann_json absl::strings)
target_compile_definitions(malformed_inputs_test PRIVATE COHORT_BIN_DIR="${CMAKE_BINARY_DIR}/bin")
add_dependencies(malformed_inputs_test cohort-worker)
