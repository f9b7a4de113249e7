// File: shared_inputs.h
//
// Checks an input a step would read from a shared filesystem (an artifact
// location `shared_path`, registered by a client) before the worker uses it.
// Anyone with a client token can register any digest at any path, so the
// path is trusted only when
//   - it lies, after resolving symbolic links, under one of the folders the
//     worker's operator allowed (`cohort-worker run --shared-root DIR`);
//   - it is a regular file, or a folder of regular files (no devices, FIFOs
//     or links: /dev/zero would be read without end);
//   - its size is the registered size, checked before a byte is read, so
//     reading is bounded by what was announced;
//   - its content has the registered digest (sha256 of the file, or of the
//     folder's canonical manifest, common/sha256.h).
// A verified digest is remembered for the path with the (device, inode,
// size, mtime) of the file, or of every file of a folder: a path used by many
// steps is hashed once until it changes.
//
// Thread-safe: one mutex guards the cache; hashing runs outside it.
//
//   SharedInputVerifier verifier({"/shared/datasets"});
//   COHORT_RETURN_IF_ERROR(verifier.Verify(path, digest, size_bytes));
#ifndef COHORT_WORKER_ARTIFACTS_SHARED_INPUTS_H_
#define COHORT_WORKER_ARTIFACTS_SHARED_INPUTS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace cohort::worker {

class SharedInputVerifier {
 public:
  // `roots`: absolute folders; none means no shared path is accepted.
  explicit SharedInputVerifier(std::vector<std::string> roots);

  // OK when `path` may be used as the artifact `digest` ("sha256:<hex>") of
  // `size_bytes` bytes (0: not checked). kPermissionDenied outside the
  // roots; kFailedPrecondition for a file of the wrong kind or size;
  // kDataLoss for content with another digest; kNotFound when absent. Each
  // message names the path.
  absl::Status Verify(const std::string& path, const std::string& digest,
                      uint64_t size_bytes);

  // How many times content was hashed (a cache hit hashes nothing).
  int hashes() const;

  const std::vector<std::string>& roots() const { return roots_; }

 private:
  struct Verified {
    std::string signature;  // device, inode, size and mtime of every file
    std::string digest;
  };
  absl::Status CheckUnderRoot(const std::string& path, std::string* resolved) const;

  const std::vector<std::string> roots_;
  mutable absl::Mutex mu_;
  std::map<std::string, Verified> verified_ ABSL_GUARDED_BY(mu_);
  int hashes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace cohort::worker

#endif  // COHORT_WORKER_ARTIFACTS_SHARED_INPUTS_H_
