#include "worker/artifacts/shared_inputs.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "common/status_macros.h"

namespace cohort::worker {
namespace {

namespace fs = std::filesystem;

std::string Resolve(const std::string& path) {
  char buffer[PATH_MAX];
  if (realpath(path.c_str(), buffer) != nullptr) return buffer;
  return fs::path(path).lexically_normal().string();
}

std::string StatSignature(const struct stat& st) {
  return absl::StrCat(st.st_dev, ":", st.st_ino, ":", st.st_size, ":", st.st_mtim.tv_sec, ".",
                      st.st_mtim.tv_nsec);
}

std::string KindOf(const struct stat& st) {
  if (S_ISLNK(st.st_mode)) return "a symbolic link";
  if (S_ISCHR(st.st_mode)) return "a character device";
  if (S_ISBLK(st.st_mode)) return "a block device";
  if (S_ISFIFO(st.st_mode)) return "a FIFO";
  if (S_ISSOCK(st.st_mode)) return "a socket";
  return "not a regular file or folder";
}

// The signature of a folder (every regular file's relative path and stat
// signature, sorted) and its total size; anything but regular files and
// folders inside is refused, as the folder digest would not cover it.
absl::Status FolderSignature(const std::string& dir, std::string* signature,
                             uint64_t* total) {
  std::vector<std::pair<std::string, std::string>> files;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    struct stat st;
    if (lstat(it->path().c_str(), &st) != 0) {
      return absl::NotFoundError(absl::StrCat("shared path ", it->path().string(), " vanished"));
    }
    if (S_ISDIR(st.st_mode)) continue;
    if (!S_ISREG(st.st_mode)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "shared path ", dir, ": ", it->path().string(), " is ", KindOf(st)));
    }
    files.emplace_back(fs::relative(it->path(), dir).string(), StatSignature(st));
    *total += static_cast<uint64_t>(st.st_size);
  }
  if (ec) return absl::PermissionDeniedError(absl::StrCat("shared path ", dir, ": ", ec.message()));
  std::sort(files.begin(), files.end());
  for (const auto& [name, sig] : files) absl::StrAppend(signature, name, "\t", sig, "\n");
  return absl::OkStatus();
}

// The signature and size of a file or folder at `resolved`.
absl::Status Signature(const std::string& resolved, std::string* signature, uint64_t* size,
                       bool* is_folder) {
  struct stat st;
  if (lstat(resolved.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat("shared path ", resolved, " does not exist"));
  }
  *is_folder = S_ISDIR(st.st_mode);
  if (S_ISREG(st.st_mode)) {
    *signature = StatSignature(st);
    *size = static_cast<uint64_t>(st.st_size);
    return absl::OkStatus();
  }
  if (!*is_folder) {
    return absl::FailedPreconditionError(
        absl::StrCat("shared path ", resolved, " is ", KindOf(st)));
  }
  *size = 0;
  return FolderSignature(resolved, signature, size);
}

std::vector<std::string> ResolveAll(const std::vector<std::string>& paths) {
  std::vector<std::string> resolved;
  for (const std::string& path : paths) resolved.push_back(Resolve(path));
  return resolved;
}

}  // namespace

SharedInputVerifier::SharedInputVerifier(std::vector<std::string> roots)
    : roots_(ResolveAll(roots)) {}

absl::Status SharedInputVerifier::CheckUnderRoot(const std::string& path,
                                                 std::string* resolved) const {
  if (roots_.empty()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "shared path ", path,
        ": this worker reads no shared paths (cohort-worker run --shared-root DIR allows a "
        "folder)"));
  }
  *resolved = Resolve(path);
  for (const std::string& root : roots_) {
    if (root == "/" || *resolved == root || absl::StartsWith(*resolved, root + "/")) {
      return absl::OkStatus();
    }
  }
  return absl::PermissionDeniedError(absl::StrCat(
      "shared path ", path, (*resolved == path ? "" : absl::StrCat(" (", *resolved, ")")),
      " is outside this worker's --shared-root folders"));
}

absl::Status SharedInputVerifier::Verify(const std::string& path, const std::string& digest,
                                         uint64_t size_bytes) {
  std::string resolved;
  COHORT_RETURN_IF_ERROR(CheckUnderRoot(path, &resolved));
  std::string signature;
  uint64_t size = 0;
  bool is_folder = false;
  COHORT_RETURN_IF_ERROR(Signature(resolved, &signature, &size, &is_folder));
  if (size_bytes != 0 && size != size_bytes) {
    return absl::FailedPreconditionError(absl::StrCat(
        "shared path ", path, " holds ", size, " bytes; ", digest, " was registered with ",
        size_bytes));
  }
  {
    absl::MutexLock lock(&mu_);
    auto it = verified_.find(resolved);
    if (it != verified_.end() && it->second.signature == signature) {
      if (it->second.digest == digest) return absl::OkStatus();
      return absl::DataLossError(absl::StrCat("shared path ", path, " has digest ",
                                              it->second.digest, ", not ", digest));
    }
    ++hashes_;
  }
  absl::StatusOr<std::string> hex = is_folder ? Sha256Folder(resolved) : Sha256File(resolved);
  if (!hex.ok()) return hex.status();
  std::string actual = absl::StrCat("sha256:", *hex);
  std::string after;
  uint64_t size_after = 0;
  COHORT_RETURN_IF_ERROR(Signature(resolved, &after, &size_after, &is_folder));
  if (after != signature) {
    return absl::FailedPreconditionError(
        absl::StrCat("shared path ", path, " changed while it was read"));
  }
  {
    absl::MutexLock lock(&mu_);
    verified_[resolved] = {signature, actual};
  }
  if (actual != digest) {
    return absl::DataLossError(
        absl::StrCat("shared path ", path, " has digest ", actual, ", not ", digest));
  }
  return absl::OkStatus();
}

int SharedInputVerifier::hashes() const {
  absl::MutexLock lock(&mu_);
  return hashes_;
}

}  // namespace cohort::worker
