# The deployment files in deploy/ (Kubernetes, systemd, Slurm, Docker):
# parsed and checked for their required fields and against the binaries' flags.
find_package(yaml-cpp CONFIG REQUIRED)
cohort_cc_test(NAME deploy_files_test
  SRCS deploy/deploy_files_test.cc
  DEPS cohort::common yaml-cpp absl::strings)
target_compile_definitions(deploy_files_test PRIVATE COHORT_BIN_DIR="${CMAKE_BINARY_DIR}/bin")
add_dependencies(deploy_files_test cohortd cohort-worker)
