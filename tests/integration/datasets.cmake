# `cohort datasets` as a real process: fetch against tests/fakes/fake_hf_hub.py
# (a loopback Hub resolve endpoint and CDN), verify, path and list, and verify
# on the repository's own data/. Included from tests/integration/tests.cmake.
cohort_cc_test(NAME datasets_integration_test
  SRCS integration/datasets_integration_test.cc
  DEPS cohort::common nlohmann_json::nlohmann_json)
target_compile_definitions(datasets_integration_test PRIVATE
  COHORT_BIN_DIR="${CMAKE_BINARY_DIR}/bin"
  COHORT_FAKES_DIR="${PROJECT_SOURCE_DIR}/tests/fakes")
add_dependencies(datasets_integration_test cohort)
