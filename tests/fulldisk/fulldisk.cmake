# Full disk (a small tmpfs; skipped where mounting is not allowed) during
# spooling and during a quantize step's output: a clean failure, nothing lost
# or half-written, success once space frees.
cohort_cc_test(NAME fulldisk_test
  SRCS fulldisk/spool_full_disk_test.cc fulldisk/quantize_full_disk_test.cc
  DEPS cohort::worker_agent cohort::worker_exec cohort::worker_artifacts)
target_compile_definitions(fulldisk_test PRIVATE
  COHORT_BIN_DIR="${CMAKE_BINARY_DIR}/bin"
  COHORT_FAKES_DIR="${PROJECT_SOURCE_DIR}/tests/fakes")
add_dependencies(fulldisk_test cohort-worker)
