// File: artifact_store.h
//
// A worker's content-addressed artifact store on local disk. Every artifact
// is a folder, named by its digest ("sha256:" + the folder's manifest
// digest, common/sha256.h):
//
//   <root>/objects/<64 hex>/...      complete, verified, immutable
//   <root>/incoming/<64 hex>/...     being fetched from a peer (resumable)
//
// Outputs of a step are adopted (renamed in, so no copy); fetched artifacts
// are verified against their digest before they become visible. Pinned
// artifacts (inputs or outputs of running steps) are never collected;
// CollectGarbage removes the least recently used unpinned ones until the
// store fits its capacity.
//
// Thread-safe.
#ifndef COHORT_WORKER_ARTIFACTS_ARTIFACT_STORE_H_
#define COHORT_WORKER_ARTIFACTS_ARTIFACT_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace cohort::worker {

struct StoredArtifact {
  std::string digest;  // sha256:<hex>
  std::string path;    // the folder
  uint64_t size_bytes = 0;
};

class ArtifactStore {
 public:
  // Creates the folders if needed. `capacity_bytes` 0 means unlimited.
  static absl::StatusOr<std::unique_ptr<ArtifactStore>> Open(
      const std::string& root, uint64_t capacity_bytes);

  // Hashes `folder` and moves it into the store (same filesystem: a rename).
  // If the digest is already stored, `folder` is removed and the stored copy
  // returned.
  absl::StatusOr<StoredArtifact> Adopt(const std::string& folder);
  // The folder of a stored artifact, or nullopt.
  std::optional<StoredArtifact> Find(const std::string& digest);
  // Where a peer fetch of `digest` writes (kept across restarts, so a fetch
  // resumes from what is there). kInvalidArgument for a malformed digest.
  absl::StatusOr<std::string> IncomingDir(const std::string& digest);
  // Verifies the incoming folder against `digest` and makes it visible.
  // kDataLoss (and the incoming folder removed) on a mismatch.
  absl::StatusOr<StoredArtifact> CommitIncoming(const std::string& digest);

  void Pin(const std::string& digest);
  void Unpin(const std::string& digest);
  // Removes unpinned artifacts, least recently used first, until the total
  // size fits the capacity. Returns the digests removed.
  std::vector<std::string> CollectGarbage();
  std::vector<std::string> Digests();
  uint64_t TotalBytes();
  const std::string& root() const { return root_; }
  // A fresh scratch folder on the store's filesystem (for step outputs).
  absl::StatusOr<std::string> NewScratchDir(const std::string& label);

 private:
  struct Entry {
    uint64_t size_bytes = 0;
    uint64_t last_use = 0;
    int pins = 0;
  };
  ArtifactStore(std::string root, uint64_t capacity)
      : root_(std::move(root)), capacity_(capacity) {}
  std::string ObjectDir(const std::string& hex) const;
  void Touch(const std::string& digest) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string root_;
  const uint64_t capacity_;
  absl::Mutex mu_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  uint64_t clock_ ABSL_GUARDED_BY(mu_) = 0;
};

// "sha256:<hex>" of a file (sha256 of its bytes) or a folder (its manifest).
absl::StatusOr<std::string> DigestOfPath(const std::string& path);

// True for "sha256:" + 64 lowercase hex digits.
bool IsDigest(const std::string& digest);

}  // namespace cohort::worker

#endif  // COHORT_WORKER_ARTIFACTS_ARTIFACT_STORE_H_
