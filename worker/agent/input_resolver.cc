#include "worker/agent/input_resolver.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/safe_path.h"
#include "common/status_macros.h"
#include "spdlog/spdlog.h"

namespace cohort::worker {

absl::Status CheckLeaseNames(const v1::Lease& lease) {
  for (const v1::StepInput& input : lease.step().inputs()) {
    COHORT_RETURN_IF_ERROR(CheckPlainName(input.name(), "input name"));
  }
  for (const v1::Artifact& artifact : lease.inputs()) {
    for (const v1::ArtifactLocation& where : artifact.locations()) {
      if (where.has_shared_path()) {
        COHORT_RETURN_IF_ERROR(CheckAbsolutePath(where.shared_path(), "shared_path"));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ResolvedInputs> InputResolver::Resolve(const v1::Lease& lease) {
  COHORT_RETURN_IF_ERROR(CheckLeaseNames(lease));
  ResolvedInputs resolved;
  for (const v1::StepInput& input : lease.step().inputs()) {
    bool pinned = false;
    absl::StatusOr<std::string> path = Locate(input, lease, &pinned);
    if (!path.ok()) {
      Release(resolved);
      return path.status();
    }
    if (pinned) resolved.pinned.push_back(input.digest());
    resolved.paths[input.name()] = *std::move(path);
  }
  return resolved;
}

void InputResolver::Release(const ResolvedInputs& resolved) {
  for (const std::string& digest : resolved.pinned) store_.Unpin(digest);
}

absl::StatusOr<std::string> InputResolver::Locate(const v1::StepInput& input,
                                                  const v1::Lease& lease, bool* pinned) {
  const std::string& digest = input.digest();
  if (std::optional<StoredArtifact> local = store_.Find(digest)) {
    store_.Pin(digest);
    *pinned = true;
    return local->path;
  }
  const v1::Artifact* artifact = nullptr;
  for (const v1::Artifact& a : lease.inputs()) {
    if (a.digest() == digest) artifact = &a;
  }
  absl::Status last = absl::UnavailableError(
      absl::StrCat("input ", input.name(), " (", digest, ") has no reachable location"));
  if (artifact == nullptr) return last;
  for (const v1::ArtifactLocation& where : artifact->locations()) {
    if (where.has_shared_path()) {
      // Anyone with a client token can register any digest at any path:
      // only a path under --shared-root with the registered bytes is used.
      absl::Status verified = shared_.Verify(where.shared_path(), digest, artifact->size_bytes());
      if (verified.ok()) return where.shared_path();  // not the store's: nothing to pin
      spdlog::warn("input {}: {}", input.name(), std::string(verified.message()));
      last = absl::FailedPreconditionError(
          absl::StrCat("input ", input.name(), ": ", verified.message()));
      continue;
    }
    if (!where.has_worker_id() || where.endpoint().empty() || where.worker_id() == worker_id_) {
      continue;
    }
    absl::StatusOr<StoredArtifact> fetched = fetch_(where, digest, artifact->size_bytes());
    if (fetched.ok()) {
      spdlog::info("fetched {} ({} bytes) from {}", digest.substr(0, 19), fetched->size_bytes,
                   where.worker_id());
      store_.Pin(digest);
      *pinned = true;
      return fetched->path;
    }
    // Whatever went wrong between us and that peer (a reset stream reads
    // as CANCELLED with no message, a hostile or broken manifest as
    // INVALID_ARGUMENT, a corrupt copy as DATA_LOSS) says nothing about the
    // step: UNAVAILABLE, so it is handed back and offered again (a bounded
    // number of times), with the real code kept.
    last = absl::UnavailableError(absl::StrCat(
        "input ", input.name(), " from worker ", where.worker_id(), ": ",
        absl::StatusCodeToString(fetched.status().code()), ": ", fetched.status().message()));
  }
  return last;
}

}  // namespace cohort::worker
