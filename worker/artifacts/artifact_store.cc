#include "worker/artifacts/artifact_store.h"

#include <cstdio>
#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/random.h"
#include "common/sha256.h"
#include "common/status_macros.h"

namespace cohort::worker {
namespace {

namespace fs = std::filesystem;

uint64_t FolderBytes(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    if (it->is_regular_file(ec)) total += it->file_size(ec);
  }
  return total;
}

std::string HexOf(const std::string& digest) { return digest.substr(7); }

}  // namespace

bool IsDigest(const std::string& digest) {
  if (!absl::StartsWith(digest, "sha256:") || digest.size() != 71) return false;
  for (size_t i = 7; i < digest.size(); ++i) {
    char c = digest[i];
    if (!absl::ascii_isdigit(c) && (c < 'a' || c > 'f')) return false;
  }
  return true;
}

absl::StatusOr<std::string> DigestOfPath(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    COHORT_ASSIGN_OR_RETURN(std::string hex, Sha256Folder(path));
    return absl::StrCat("sha256:", hex);
  }
  COHORT_ASSIGN_OR_RETURN(std::string hex, Sha256File(path));
  return absl::StrCat("sha256:", hex);
}

absl::StatusOr<std::unique_ptr<ArtifactStore>> ArtifactStore::Open(
    const std::string& root, uint64_t capacity_bytes) {
  std::error_code ec;
  for (const char* sub : {"objects", "incoming", "scratch"}) {
    fs::create_directories(fs::path(root) / sub, ec);
    if (ec) {
      return absl::PermissionDeniedError(
          absl::StrCat("artifact store ", root, ": ", ec.message()));
    }
  }
  // Scratch folders of steps that were running when we died are garbage.
  fs::remove_all(fs::path(root) / "scratch", ec);
  fs::create_directories(fs::path(root) / "scratch", ec);
  std::unique_ptr<ArtifactStore> store(new ArtifactStore(root, capacity_bytes));
  absl::MutexLock lock(&store->mu_);
  for (const auto& entry : fs::directory_iterator(fs::path(root) / "objects", ec)) {
    std::string digest = absl::StrCat("sha256:", entry.path().filename().string());
    if (!IsDigest(digest)) continue;
    store->entries_[digest] = {FolderBytes(entry.path().string()), 0, 0};
  }
  return store;
}

std::string ArtifactStore::ObjectDir(const std::string& hex) const {
  return (fs::path(root_) / "objects" / hex).string();
}

void ArtifactStore::Touch(const std::string& digest) {
  entries_[digest].last_use = ++clock_;
}

absl::StatusOr<StoredArtifact> ArtifactStore::Adopt(const std::string& folder) {
  COHORT_ASSIGN_OR_RETURN(std::string digest, DigestOfPath(folder));
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) {
    return absl::InvalidArgumentError(absl::StrCat(folder, ": not a folder"));
  }
  std::string target = ObjectDir(HexOf(digest));
  absl::MutexLock lock(&mu_);
  if (entries_.count(digest) != 0 && fs::exists(target, ec)) {
    fs::remove_all(folder, ec);  // same bytes already stored
  } else {
    fs::rename(folder, target, ec);
    if (ec) {
      return absl::InternalError(
          absl::StrCat("adopting ", folder, " into the store: ", ec.message()));
    }
    entries_[digest].size_bytes = FolderBytes(target);
  }
  Touch(digest);
  return StoredArtifact{digest, target, entries_[digest].size_bytes};
}

std::optional<StoredArtifact> ArtifactStore::Find(const std::string& digest) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(digest);
  if (it == entries_.end()) return std::nullopt;
  Touch(digest);
  return StoredArtifact{digest, ObjectDir(HexOf(digest)), it->second.size_bytes};
}

absl::StatusOr<std::string> ArtifactStore::IncomingDir(const std::string& digest) {
  if (!IsDigest(digest)) {
    return absl::InvalidArgumentError(absl::StrCat("'", digest, "' is not a digest"));
  }
  fs::path dir = fs::path(root_) / "incoming" / HexOf(digest);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat(dir.string(), ": ", ec.message()));
  return dir.string();
}

absl::StatusOr<StoredArtifact> ArtifactStore::CommitIncoming(
    const std::string& digest) {
  COHORT_ASSIGN_OR_RETURN(std::string dir, IncomingDir(digest));
  COHORT_ASSIGN_OR_RETURN(std::string actual, DigestOfPath(dir));
  std::error_code ec;
  if (actual != digest) {
    fs::remove_all(dir, ec);
    return absl::DataLossError(absl::StrCat("fetched artifact has digest ", actual,
                                            ", expected ", digest, "; discarded"));
  }
  std::string target = ObjectDir(HexOf(digest));
  absl::MutexLock lock(&mu_);
  if (!fs::exists(target, ec)) fs::rename(dir, target, ec);
  if (ec) return absl::InternalError(absl::StrCat("storing ", digest, ": ", ec.message()));
  fs::remove_all(dir, ec);
  entries_[digest].size_bytes = FolderBytes(target);
  Touch(digest);
  return StoredArtifact{digest, target, entries_[digest].size_bytes};
}

void ArtifactStore::Pin(const std::string& digest) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(digest);
  if (it != entries_.end()) ++it->second.pins;
}

void ArtifactStore::Unpin(const std::string& digest) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(digest);
  if (it != entries_.end() && it->second.pins > 0) --it->second.pins;
}

std::vector<std::string> ArtifactStore::CollectGarbage() {
  std::vector<std::string> removed;
  if (capacity_ == 0) return removed;
  absl::MutexLock lock(&mu_);
  uint64_t total = 0;
  for (const auto& [digest, e] : entries_) total += e.size_bytes;
  while (total > capacity_) {
    auto victim = entries_.end();
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->second.pins > 0) continue;
      if (victim == entries_.end() || it->second.last_use < victim->second.last_use) {
        victim = it;
      }
    }
    if (victim == entries_.end()) break;  // everything left is pinned
    std::error_code ec;
    fs::remove_all(ObjectDir(HexOf(victim->first)), ec);
    total -= victim->second.size_bytes;
    removed.push_back(victim->first);
    entries_.erase(victim);
  }
  return removed;
}

std::vector<std::string> ArtifactStore::Digests() {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> digests;
  for (const auto& [digest, e] : entries_) digests.push_back(digest);
  return digests;
}

uint64_t ArtifactStore::TotalBytes() {
  absl::MutexLock lock(&mu_);
  uint64_t total = 0;
  for (const auto& [digest, e] : entries_) total += e.size_bytes;
  return total;
}

absl::StatusOr<std::string> ArtifactStore::NewScratchDir(const std::string& label) {
  fs::path dir = fs::path(root_) / "scratch" / absl::StrCat(label, "-", SecureRandomHex(6));
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat(dir.string(), ": ", ec.message()));
  return dir.string();
}

}  // namespace cohort::worker
