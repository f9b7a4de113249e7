// File: temp_dir.h
//
// A fresh folder under $TMPDIR (or /tmp) removed with everything in it when
// the object goes out of scope. Not thread-safe.
#ifndef COHORT_COMMON_TESTING_TEMP_DIR_H_
#define COHORT_COMMON_TESTING_TEMP_DIR_H_

#include <cstdlib>
#include <filesystem>
#include <string>

namespace cohort::testing {

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") +
                          "/cohort-test-XXXXXX";
    char* made = mkdtemp(pattern.data());
    path_ = made != nullptr ? made : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Join(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The repository root (COHORT_SOURCE_DIR, set by ctest), for test data.
inline std::string SourceDir() {
  const char* dir = std::getenv("COHORT_SOURCE_DIR");
  return dir != nullptr ? dir : ".";
}

// The benchmark data shipped in the repository (data/, see data/datasets.json).
inline std::string DatasetsDir() { return SourceDir() + "/data"; }

// Test-only data in the repository (tests/data): the reference pruning
// scripts' goldens and the recorded llama-server exchanges.
inline std::string TestDataDir() { return SourceDir() + "/tests/data"; }

}  // namespace cohort::testing

#endif  // COHORT_COMMON_TESTING_TEMP_DIR_H_
