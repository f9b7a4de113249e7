# Full disk (a small tmpfs; skipped where mounting is not allowed) during
# spooling: a clean failure, nothing lost, success once space frees.
cohort_cc_test(NAME fulldisk_test
  SRCS fulldisk/spool_full_disk_test.cc
  DEPS cohort::worker_agent)
