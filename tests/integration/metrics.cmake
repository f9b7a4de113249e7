# cohortd --metrics-listen: Prometheus /metrics fetched over HTTP.
cohort_cc_test(NAME metrics_integration_test
  SRCS integration/metrics_integration_test.cc
  DEPS cohort::integration_support cohort::proto CURL::libcurl)
add_dependencies(metrics_integration_test cohortd)
