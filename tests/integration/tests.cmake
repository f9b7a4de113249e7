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
