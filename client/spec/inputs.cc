#include "client/spec/inputs.h"

#include <filesystem>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "common/status_macros.h"

namespace cohort::client {
namespace {

absl::Status InputError(const InputRef& ref, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(ref.where.Prefix(), what));
}

absl::StatusOr<UserArtifact> Hash(const InputRef& ref) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::file_status st = fs::status(ref.path, ec);
  if (ec || !fs::exists(st)) {
    return InputError(ref, absl::StrCat(ref.path, " does not exist"));
  }
  UserArtifact a;
  a.kind = ref.kind;
  a.path = ref.path;
  if (fs::is_directory(st)) {
    a.is_folder = true;
    absl::StatusOr<std::vector<ManifestEntry>> manifest = BuildManifest(ref.path);
    if (!manifest.ok()) return InputError(ref, manifest.status().message());
    if (manifest->empty()) return InputError(ref, ref.path + " is an empty folder");
    for (const ManifestEntry& e : *manifest) a.size_bytes += e.size;
    a.digest = "sha256:" + Sha256Hex(ManifestText(*manifest));
  } else if (fs::is_regular_file(st)) {
    a.size_bytes = fs::file_size(ref.path, ec);
    absl::StatusOr<std::string> hex = Sha256File(ref.path);
    if (!hex.ok()) return InputError(ref, hex.status().message());
    a.digest = "sha256:" + *hex;
  } else {
    return InputError(ref, ref.path + " is neither a file nor a folder");
  }
  return a;
}

}  // namespace

absl::StatusOr<std::vector<UserArtifact>> ResolveInputs(Spec& spec) {
  std::map<std::string, UserArtifact> by_path;
  std::vector<UserArtifact> out;
  std::set<std::string> seen;
  for (InputRef* ref : MutableInputs(spec)) {
    if (ref->path.empty()) continue;  // a digest cohortd already knows
    auto it = by_path.find(ref->path);
    if (it == by_path.end()) {
      COHORT_ASSIGN_OR_RETURN(UserArtifact a, Hash(*ref));
      it = by_path.emplace(ref->path, std::move(a)).first;
    }
    const UserArtifact& a = it->second;
    if (!ref->digest.empty() && ref->digest != a.digest) {
      if (!ref->pinned_by.empty()) {
        return InputError(*ref, absl::StrCat(ref->path, " has digest ", a.digest, ", but ",
                                             ref->pinned_by, " pins ", ref->digest,
                                             " (cohort datasets verify says which files differ)"));
      }
      return InputError(*ref, absl::StrCat(ref->path, " has digest ", a.digest,
                                           ", but the spec pins ", ref->digest));
    }
    ref->digest = a.digest;
    if (seen.insert(a.digest).second) out.push_back(a);
  }
  return out;
}

}  // namespace cohort::client
