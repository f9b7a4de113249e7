// File: fetch_plan.h
//
// The decisions of `cohort datasets fetch`, without the network: which
// revision to ask the Hub for, which digest each file must have, and what to
// record in pins.json afterwards. The libcurl shell (client/hub) does the
// transfers; client/cli/cmd_datasets.cc strings the two together.
//
// Revision: --revision, else the manifest's, else the commit an earlier
// fetch recorded in pins.json, else the default branch ("main").
// Digest of a file: the manifest's sha256, else the pin in pins.json, else
// the sha256 the Hub announces for an LFS file (X-Linked-Etag), else none:
// the first download's own digest is recorded (trust on first use, said
// aloud). A --revision other than the pinned one drops the pins, since they
// describe other bytes. A pin that disagrees with what the Hub announces
// stops the fetch before anything is downloaded.
#ifndef COHORT_CLIENT_DATASETS_FETCH_PLAN_H_
#define COHORT_CLIENT_DATASETS_FETCH_PLAN_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/datasets/manifest.h"
#include "client/datasets/pins.h"

namespace cohort::client::datasets {

struct FilePlan {
  const DatasetFile* file = nullptr;
  std::string dest;                        // <fetch dir>/<path>
  std::optional<std::string> want_sha256;  // pinned digest, if any
  std::optional<uint64_t> want_bytes;
  std::string pinned_by;    // the datasets.json or pins.json that pins it
  std::string digest_from;  // manifest | hub | download (for pins.json)
};

struct FetchPlan {
  const Dataset* dataset = nullptr;
  std::string revision;       // asked of the Hub
  std::string revision_from;  // "--revision", a file name, or "the default branch"
  std::vector<FilePlan> files;
};

// kInvalidArgument for a dataset with nothing to fetch (no hub_repo).
absl::StatusOr<FetchPlan> PlanFetch(const Dataset& d, const Pins& pins,
                                    const std::string& fetch_dir,
                                    const std::string& revision_flag);

struct DigestChoice {
  std::optional<std::string> want;  // none: record what arrives
  std::string digest_from;          // manifest | hub | download
};

// The digest a download must match, given what the Hub announced (64 hex
// or empty). kFailedPrecondition when a pin disagrees with the Hub.
absl::StatusOr<DigestChoice> ChooseDigest(const FetchPlan& plan, const FilePlan& file,
                                          const std::string& announced_sha256);

// Refuses a commit that is not the one asked for (a 40-hex revision) or
// that differs from the commit an earlier file of the same fetch came from
// (`first_commit`, empty for the first file): the branch moved mid-fetch.
absl::Status CheckCommit(const FetchPlan& plan, const std::string& first_commit,
                         const std::string& commit);

// Records one downloaded file in `pins`. A commit other than the recorded
// one starts the dataset's pins afresh.
void RecordFetchedFile(const FetchPlan& plan, const FilePlan& file, const std::string& commit,
                       const std::string& sha256, uint64_t bytes,
                       const std::string& digest_from, Pins* pins);

}  // namespace cohort::client::datasets

#endif  // COHORT_CLIENT_DATASETS_FETCH_PLAN_H_
