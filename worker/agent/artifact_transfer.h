// File: artifact_transfer.h
//
// Worker-to-worker artifact transfer over cohort.v1.ArtifactService. The
// server side serves this worker's store: a peer asks for the manifest of a
// digest, then streams each file from an offset. Only paths listed in the
// manifest are served, so no request can name a file outside the artifact.
// The client side fetches into the store's incoming folder, resuming each
// file from the bytes already there, and verifies the whole folder's digest
// before the artifact becomes visible (ArtifactStore::CommitIncoming).
//
// Peers present a capability cohortd issued in a lease for that digest on
// this worker (common/transfer_capability.h), never a long-lived token. The
// fetching side bounds what a hostile peer can make it write: the manifest
// must add up to the size cohortd registered, chunks must come in order
// and stay inside their file's announced size, and the deadline grows with
// the bytes (60 s + 8 MiB/s).
#ifndef COHORT_WORKER_AGENT_ARTIFACT_TRANSFER_H_
#define COHORT_WORKER_AGENT_ARTIFACT_TRANSFER_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "cohort/v1/artifact.grpc.pb.h"
#include "grpcpp/security/credentials.h"
#include "worker/artifacts/artifact_store.h"

namespace cohort::worker {

class ArtifactServiceImpl final : public v1::ArtifactService::CallbackService {
 public:
  explicit ArtifactServiceImpl(ArtifactStore& store) : store_(store) {}

  // The key capabilities are checked with (hex, from registration); until
  // it is set every request is refused as UNAVAILABLE.
  void SetTransferKey(const std::string& key) ABSL_LOCKS_EXCLUDED(mu_);

  grpc::ServerUnaryReactor* StatArtifact(grpc::CallbackServerContext* context,
                                         const v1::StatArtifactRequest* request,
                                         v1::StatArtifactResponse* response) override;
  grpc::ServerWriteReactor<v1::ArtifactChunk>* FetchArtifact(
      grpc::CallbackServerContext* context,
      const v1::FetchArtifactRequest* request) override;

 private:
  absl::Status Authorize(const grpc::CallbackServerContext* context,
                         const std::string& digest) const ABSL_LOCKS_EXCLUDED(mu_);
  ArtifactStore& store_;
  mutable absl::Mutex mu_;
  std::string transfer_key_ ABSL_GUARDED_BY(mu_);
};

// Fetches `digest` (of `expected_size` bytes as registered; 0: unknown)
// from the peer at `endpoint` into `store`, presenting `capability`.
// kDataLoss when the bytes do not match the digest or the peer sends more,
// or elsewhere, than it announced; kUnavailable when the peer is gone.
absl::StatusOr<StoredArtifact> FetchFromPeer(
    ArtifactStore& store, const std::string& endpoint, const std::string& capability,
    const std::string& digest, uint64_t expected_size,
    std::shared_ptr<grpc::ChannelCredentials> credentials);

}  // namespace cohort::worker

#endif  // COHORT_WORKER_AGENT_ARTIFACT_TRANSFER_H_
