// File: input_resolver.h
//
// Turns a lease's inputs into paths on this worker: an artifact already in
// the store, a file under a --shared-root that matches its registered
// digest, or a copy fetched from the peer worker that holds it. Each input
// found is pinned in the store (garbage collection skips it) until Release.
//
//   InputResolver inputs(store, shared, worker_id, fetch);
//   COHORT_ASSIGN_OR_RETURN(ResolvedInputs resolved, inputs.Resolve(lease));
//   ... run the step on resolved.paths ...
//   inputs.Release(resolved);
//
// Errors: kInvalidArgument for a name that cannot become a path
// (CheckLeaseNames); kUnavailable when no location served an input (a peer
// that is gone, a reset stream, a corrupt copy: nothing the step did, so it
// is handed back and offered again), with the peer's own code in the
// message; kFailedPrecondition when the only copies were shared paths that
// failed their check. A failed Resolve pins nothing.
//
// Thread-safe (the store and the verifier are); does not own them.
#ifndef COHORT_WORKER_AGENT_INPUT_RESOLVER_H_
#define COHORT_WORKER_AGENT_INPUT_RESOLVER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cohort/v1/worker.pb.h"
#include "worker/artifacts/artifact_store.h"
#include "worker/artifacts/shared_inputs.h"

namespace cohort::worker {

// The names in a lease that become paths on this worker: input names (plain
// names) and shared paths (absolute, no ".."). kInvalidArgument naming the
// problem; the agent fails such a step before it pins, fetches or opens
// anything.
absl::Status CheckLeaseNames(const v1::Lease& lease);

struct ResolvedInputs {
  std::map<std::string, std::string> paths;  // input name -> file or folder
  std::vector<std::string> pinned;           // store digests Resolve pinned
};

class InputResolver {
 public:
  // Copies `digest` (`size_bytes` as registered) from the peer at `where`
  // into the store (artifact_transfer.h FetchFromPeer in the agent).
  using PeerFetch = std::function<absl::StatusOr<StoredArtifact>(
      const v1::ArtifactLocation& where, const std::string& digest, uint64_t size_bytes)>;

  InputResolver(ArtifactStore& store, SharedInputVerifier& shared, std::string worker_id,
                PeerFetch fetch)
      : store_(store), shared_(shared), worker_id_(std::move(worker_id)),
        fetch_(std::move(fetch)) {}

  absl::StatusOr<ResolvedInputs> Resolve(const v1::Lease& lease);
  // Unpins what Resolve pinned.
  void Release(const ResolvedInputs& resolved);

 private:
  // The path of one input; `*pinned` when it is the store's copy (pinned).
  absl::StatusOr<std::string> Locate(const v1::StepInput& input, const v1::Lease& lease,
                                     bool* pinned);

  ArtifactStore& store_;
  SharedInputVerifier& shared_;
  const std::string worker_id_;
  const PeerFetch fetch_;
};

}  // namespace cohort::worker

#endif  // COHORT_WORKER_AGENT_INPUT_RESOLVER_H_
