// File: test_util.h
//
// Helpers shared by the worker_eval tests: the shared dataset folder, the
// built-in card profile's settings per bench, and a writer for small
// fixture files under a TempDir.
#ifndef COHORT_WORKER_EVAL_TEST_UTIL_H_
#define COHORT_WORKER_EVAL_TEST_UTIL_H_

#include <fstream>
#include <string>

#include "common/testing/temp_dir.h"
#include "gtest/gtest.h"
#include "worker/eval/profile.h"

namespace cohort::worker::eval {

inline std::string DatasetPath(const std::string& relative) {
  return cohort::testing::DatasetsDir() + "/" + relative;
}

// The card profile's settings for `bench` (fails the test when absent).
inline BenchSettings CardSettings(const std::string& bench) {
  absl::StatusOr<Profile> profile = LoadProfile(kDefaultProfile);
  EXPECT_TRUE(profile.ok()) << profile.status();
  if (!profile.ok() || profile->Find(bench) == nullptr) return BenchSettings{};
  return *profile->Find(bench);
}

inline std::string WriteFile(const cohort::testing::TempDir& dir, const std::string& name,
                             const std::string& text) {
  std::string path = dir.Join(name);
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

}  // namespace cohort::worker::eval

#endif  // COHORT_WORKER_EVAL_TEST_UTIL_H_
