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
// Peers authenticate with the worker token they share.
#ifndef COHORT_WORKER_AGENT_ARTIFACT_TRANSFER_H_
#define COHORT_WORKER_AGENT_ARTIFACT_TRANSFER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "cohort/v1/artifact.grpc.pb.h"
#include "grpcpp/security/credentials.h"
#include "worker/artifacts/artifact_store.h"

namespace cohort::worker {

class ArtifactServiceImpl final : public v1::ArtifactService::CallbackService {
 public:
  ArtifactServiceImpl(ArtifactStore& store, std::string token)
      : store_(store), token_(std::move(token)) {}

  grpc::ServerUnaryReactor* StatArtifact(grpc::CallbackServerContext* context,
                                         const v1::StatArtifactRequest* request,
                                         v1::StatArtifactResponse* response) override;
  grpc::ServerWriteReactor<v1::ArtifactChunk>* FetchArtifact(
      grpc::CallbackServerContext* context,
      const v1::FetchArtifactRequest* request) override;

 private:
  absl::Status Authorize(const grpc::CallbackServerContext* context) const;
  ArtifactStore& store_;
  const std::string token_;
};

// Fetches `digest` from the peer at `endpoint` into `store`. kDataLoss when
// the bytes do not match the digest; kUnavailable when the peer is gone.
absl::StatusOr<StoredArtifact> FetchFromPeer(
    ArtifactStore& store, const std::string& endpoint, const std::string& token,
    const std::string& digest,
    std::shared_ptr<grpc::ChannelCredentials> credentials);

}  // namespace cohort::worker

#endif  // COHORT_WORKER_AGENT_ARTIFACT_TRANSFER_H_
