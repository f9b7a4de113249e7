// File: manifest.h
//
// The benchmark data catalog, data/datasets.json (data/README.md):
//
//   {"version": 1, "datasets": [{
//      "name": "gsm8k", "shipped": true,
//      "files": [{"path": "gsm8k/test.jsonl", "split": "test",
//                 "sha256": "<hex>", "bytes": 749738, "records": 1319}],
//      "source": "...", "revision": "<commit>", "license": "MIT",
//      "license_file": "gsm8k/LICENSE", "provenance": "gsm8k/PROVENANCE.md"}]}
//
// A dataset that is not shipped names where `cohort datasets fetch` gets it:
// "hub_repo" (a Hugging Face dataset repository), "gated" (its terms must be
// accepted), and per file "hub_path" (the file's path in that repository).
// Pins may be null there ("revision", a file's "sha256" and "bytes"): the
// upstream commit and digests were not known when the entry was written, and
// the first fetch records what the Hub announced in pins.json (pins.h).
//
// File paths are relative to a data folder laid out like data/: the
// repository's, an installed copy, the cache folder fetched sets go to, or
// one the user names (catalog.h). Parsing is pure; every error is
// kInvalidArgument naming the file and the entry.
#ifndef COHORT_CLIENT_DATASETS_MANIFEST_H_
#define COHORT_CLIENT_DATASETS_MANIFEST_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace cohort::client::datasets {

struct DatasetFile {
  std::string path;                  // relative to a data folder
  std::string split;                 // unique within the dataset
  std::optional<std::string> sha256;  // lowercase hex; null: not pinned yet
  std::optional<uint64_t> bytes;
  std::optional<uint64_t> records;
  std::string hub_path;              // path in hub_repo; fetched sets only
};

struct Dataset {
  std::string name;  // [a-z0-9_]+, so a spec can name it bare
  bool shipped = false;
  std::vector<DatasetFile> files;
  std::string source;
  std::optional<std::string> revision;  // upstream commit; null: not pinned
  std::string hub_repo;                 // "owner/name"; empty when shipped
  bool gated = false;
  std::string license;
  std::string license_file;  // relative to the data folder; may be empty
  std::string provenance;    // likewise
  std::string notes;
  std::string manifest_file;  // the datasets.json it came from

  // The file of `split`, or nullptr.
  const DatasetFile* FindSplit(const std::string& split) const;
  std::vector<std::string> Splits() const;
};

struct Manifest {
  std::vector<Dataset> datasets;
  const Dataset* Find(const std::string& name) const;
};

// Parses datasets.json text; `source` names the file in errors.
absl::StatusOr<Manifest> ParseManifest(const std::string& text, const std::string& source);

// Reads and parses a datasets.json file.
absl::StatusOr<Manifest> LoadManifest(const std::string& path);

// True for 64 lowercase hex digits.
bool IsSha256Hex(const std::string& text);

}  // namespace cohort::client::datasets

#endif  // COHORT_CLIENT_DATASETS_MANIFEST_H_
