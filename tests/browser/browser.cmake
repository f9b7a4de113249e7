# The dashboard in Debian's headless chromium (tests/browser/README.md):
# every page of a finished demo campaign, its numbers against the CLI's,
# no console error. Skipped (exit 77) where chromium is not installed.
add_test(NAME dashboard_browser_test
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/dashboard_browser_test.sh)
set_tests_properties(dashboard_browser_test PROPERTIES
  ENVIRONMENT "COHORT_BIN_DIR=${CMAKE_BINARY_DIR}/bin"
  SKIP_RETURN_CODE 77 TIMEOUT 300)
