// File: catalog.h
//
// Which datasets exist and where their files are. A data folder is laid out
// like the repository's data/ (<folder>/<file>, optionally a datasets.json
// and a pins.json). The folders searched, first match wins:
//
//   1. --data-dir (commands that take it)
//   2. $COHORT_DATA_DIR
//   3. the cache folder fetched sets go to: $XDG_CACHE_HOME/cohort/datasets,
//      else ~/.cache/cohort/datasets
//   4. the repository's data/ (the source tree this binary was built from)
//   5. <binary dir>/../share/cohort/data (an installed layout)
//
// Each folder's datasets.json adds the datasets not named by an earlier one.
// A dataset file is looked up in every folder in that order. Its expected
// digest is the manifest's sha256, or else the pin a fetch recorded in the
// pins.json of the folder that holds it (pins.h).
//
// Names: "gsm8k" is the dataset's `test` split, "gsm8k:train" another one.
// Reading files and the environment is all the I/O here; no network.
#ifndef COHORT_CLIENT_DATASETS_CATALOG_H_
#define COHORT_CLIENT_DATASETS_CATALOG_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/datasets/manifest.h"
#include "client/datasets/pins.h"

namespace cohort::client::datasets {

struct DataRoot {
  std::string path;
  std::string label;  // "--data-dir", "COHORT_DATA_DIR", "cache", "repository", "installed"
};

// Everything the search order depends on, gathered by the caller.
struct RootSettings {
  std::string data_dir;         // --data-dir
  std::string env_data_dir;     // $COHORT_DATA_DIR
  std::string xdg_cache_home;   // $XDG_CACHE_HOME
  std::string home;             // $HOME
  std::string repository_data;  // the source tree's data/
  std::string exe_dir;          // the running binary's folder
};

// The environment, the compiled-in repository path and /proc/self/exe.
RootSettings RootSettingsFromEnvironment(const std::string& data_dir_flag);

// $XDG_CACHE_HOME/cohort/datasets (an absolute XDG_CACHE_HOME only, as the
// XDG spec says), else $HOME/.cache/cohort/datasets; "" without either.
std::string CacheDir(const RootSettings& s);
// Where `fetch` writes: --data-dir, else the cache folder.
std::string FetchDir(const RootSettings& s);
// The search order above, without empty or repeated folders.
std::vector<DataRoot> SearchRoots(const RootSettings& s);

// "gsm8k" or "gsm8k:train": lowercase letters, digits and '_', then an
// optional ':' and a split (also '-'). No '/' and no '.', so it cannot be
// mistaken for a path with an extension.
bool LooksLikeDatasetName(const std::string& text);
// {name, split}; the split defaults to "test".
std::pair<std::string, std::string> SplitDatasetName(const std::string& text);

struct Located {
  std::string path;  // absolute
  const DataRoot* root = nullptr;
};

struct ExpectedDigest {
  std::string sha256;
  std::optional<uint64_t> bytes;
  std::string pinned_by;  // the datasets.json or pins.json that says so
};

// A name resolved to a file, for specs and `cohort datasets path`.
struct ResolvedFile {
  const Dataset* dataset = nullptr;
  const DatasetFile* file = nullptr;
  std::string path;
  std::optional<ExpectedDigest> expected;
};

enum class FileState { kOk, kMismatch, kMissing, kUnpinned, kUnreadable };

struct FileCheck {
  const Dataset* dataset = nullptr;
  const DatasetFile* file = nullptr;
  FileState state = FileState::kMissing;
  std::string path;    // where it was found; empty when missing
  std::string detail;  // what is wrong, in words
};

// Move-only: results point into it (datasets, files, folders).
class Catalog {
 public:
  Catalog(Catalog&&) = default;
  Catalog& operator=(Catalog&&) = default;
  Catalog(const Catalog&) = delete;
  Catalog& operator=(const Catalog&) = delete;

  // Reads the datasets.json and pins.json files of the folders. Errors name
  // the file; no manifest at all is kFailedPrecondition listing the folders.
  static absl::StatusOr<Catalog> Load(std::vector<DataRoot> roots);

  const std::vector<Dataset>& datasets() const { return datasets_; }
  const std::vector<DataRoot>& roots() const { return roots_; }
  const Dataset* Find(const std::string& name) const;
  std::vector<std::string> Names() const;

  std::optional<Located> Locate(const DatasetFile& file) const;
  std::optional<ExpectedDigest> Expected(const Dataset& d, const DatasetFile& file,
                                         const DataRoot* root) const;
  // The pins.json of a folder (empty when it has none).
  const Pins& PinsOf(const std::string& root_path) const;

  // kNotFound for an unknown name or split (listing the known ones),
  // kFailedPrecondition for a file in no folder (how to fetch it).
  absl::StatusOr<ResolvedFile> Resolve(const std::string& name_and_split) const;

  // "shipped", "fetched", "missing", or "partial (k of n files)".
  std::string State(const Dataset& d) const;

  // sha256 (and size) of each file of `d` against its expected digest.
  std::vector<FileCheck> Verify(const Dataset& d) const;

  // The folders searched, for messages: "a (label), b (label)".
  std::string DescribeRoots() const;

 private:
  Catalog() = default;
  std::vector<DataRoot> roots_;
  std::vector<Dataset> datasets_;
  std::map<std::string, Pins> pins_;  // by root path
};

}  // namespace cohort::client::datasets

#endif  // COHORT_CLIENT_DATASETS_CATALOG_H_
