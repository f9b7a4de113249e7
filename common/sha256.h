// File: sha256.h
//
// SHA-256 of bytes, files and folders, as lowercase hex. A folder's digest is
// the sha256 of its canonical manifest: one line per regular file,
//   "<relative path>\t<size in bytes>\t<sha256 hex>\n",
// sorted by relative path (byte order, '/' separators). Artifacts (checkpoints,
// GGUFs, completions) are identified by these digests, so the same bytes give
// the same digest on every machine, whatever the folder is called.
//
//   COHORT_ASSIGN_OR_RETURN(std::string digest, Sha256Folder(model_dir));
#ifndef COHORT_COMMON_SHA256_H_
#define COHORT_COMMON_SHA256_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cohort {

// Incremental hasher. Not thread-safe.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(const void* data, size_t size);
  void Update(absl::string_view bytes) { Update(bytes.data(), bytes.size()); }
  // Returns the lowercase hex digest. The hasher must not be used afterwards.
  std::string FinishHex();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

std::string Sha256Hex(absl::string_view bytes);

// HMAC-SHA256 of `message` under `key`, lowercase hex.
std::string HmacSha256Hex(absl::string_view key, absl::string_view message);

// Returns kNotFound / kPermissionDenied / kDataLoss naming `path` on failure.
absl::StatusOr<std::string> Sha256File(const std::string& path);

struct ManifestEntry {
  std::string relative_path;
  uint64_t size = 0;
  std::string sha256;
};

// Lists every regular file below `dir` with its size and digest, sorted.
// Symbolic links and special files are refused (kFailedPrecondition), since
// their content would not be part of the digest.
absl::StatusOr<std::vector<ManifestEntry>> BuildManifest(const std::string& dir);

// The manifest text that Sha256Folder hashes.
std::string ManifestText(const std::vector<ManifestEntry>& entries);

absl::StatusOr<std::string> Sha256Folder(const std::string& dir);

}  // namespace cohort

#endif  // COHORT_COMMON_SHA256_H_
