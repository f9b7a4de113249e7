// File: pins.h
//
// What a fetch learned from the Hub, kept as pins.json in the folder it
// fetched into, so that later fetches ask for the same commit and `verify`
// checks the same bytes where data/datasets.json pins nothing:
//
//   {"version": 1, "datasets": {"livecodebench": {
//      "hub_repo": "livecodebench/code_generation_lite",
//      "revision": "<the commit the Hub answered, X-Repo-Commit>",
//      "files": {"livecodebench/test.jsonl": {
//         "sha256": "<hex>", "bytes": 123, "digest_from": "hub"}}}}}
//
// digest_from says where the pin came from: "manifest" (datasets.json),
// "hub" (the X-Linked-Etag the Hub announced for an LFS file, which the
// download matched), or "download" (the Hub announced no digest, so the
// first download's own sha256 was recorded: trust on first use).
#ifndef COHORT_CLIENT_DATASETS_PINS_H_
#define COHORT_CLIENT_DATASETS_PINS_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cohort::client::datasets {

struct FilePin {
  std::string sha256;
  uint64_t bytes = 0;
  std::string digest_from;  // manifest | hub | download
};

struct DatasetPins {
  std::string hub_repo;
  std::string revision;                   // a commit id
  std::map<std::string, FilePin> files;  // by the file's data path
};

struct Pins {
  std::map<std::string, DatasetPins> datasets;  // by dataset name
  const DatasetPins* Find(const std::string& name) const;
  const FilePin* FindFile(const std::string& name, const std::string& path) const;
};

inline constexpr char kPinsFile[] = "pins.json";

absl::StatusOr<Pins> ParsePins(const std::string& text, const std::string& source);
std::string PinsJson(const Pins& pins);

// <dir>/pins.json; none there is an empty Pins.
absl::StatusOr<Pins> LoadPins(const std::string& dir);
// Written to a temporary name and renamed over <dir>/pins.json.
absl::Status SavePins(const std::string& dir, const Pins& pins);

}  // namespace cohort::client::datasets

#endif  // COHORT_CLIENT_DATASETS_PINS_H_
