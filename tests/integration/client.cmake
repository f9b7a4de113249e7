# The `cohort` CLI against a real cohortd: submit (dry run and real), status,
# cancel, resume, memoized resubmission, report, and `up`/`down` for cohortd.
# Included from tests/integration/tests.cmake.
cohort_cc_test(NAME client_integration_test
  SRCS integration/client_integration_test.cc
  DEPS cohort::integration_support cohort::proto)
add_dependencies(client_integration_test cohortd cohort)
