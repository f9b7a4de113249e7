// File: convert.h
//
// proto <-> domain translation for the coordinator's services. Protos stop
// here: the coordinator, store and job graph see only plain structs.
#ifndef COHORT_SERVER_SERVICE_CONVERT_H_
#define COHORT_SERVER_SERVICE_CONVERT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "cohort/v1/coordinator.pb.h"
#include "cohort/v1/worker.pb.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"
#include "grpcpp/support/status.h"
#include "server/coordinator/coordinator.h"

namespace cohort::server {

grpc::Status ToGrpc(const absl::Status& status);
// Finishes a unary call with `status` on the context's default reactor.
grpc::ServerUnaryReactor* FinishUnary(grpc::CallbackServerContext* context,
                                      const absl::Status& status);
// "worker:<id>" / "path:<p>" location strings -> ArtifactLocation protos.
void LocationsToProto(const std::vector<std::string>& locations, v1::Artifact* out);

absl::StatusOr<std::vector<NodeSpec>> NodesFromProto(const v1::CampaignSpec& spec);
void StepToProto(const StepRecord& step, v1::Step* out);
// A heartbeat's progress as the store keeps it: JSON with numbers for the
// counts (never throws; invalid UTF-8 in the texts is replaced).
std::string ProgressToJson(const v1::StepProgress& progress);
// The stored progress back as a proto. Counts may be numbers or, in rows
// written before they were typed, protobuf JSON's decimal strings ("90");
// anything malformed reads as 0 or "" and never fails the caller.
v1::StepProgress ProgressFromJson(absl::string_view json);
void CampaignToProto(const CampaignRecord& campaign, v1::Campaign* out);
void LeaseToProto(const LeaseGrant& grant, v1::Lease* out);
void EventToProto(const EventRecord& event, v1::Event* out);
Requirements RequirementsFromProto(const v1::Requirements& req);
void RequirementsToProto(const Requirements& req, v1::Requirements* out);
WorkerCapacity CapacityFromLeaseRequest(const v1::LeaseRequest& request,
                                        const v1::WorkerInfo& info);
ResultRow ResultFromProto(const v1::ProblemResult& result);
// Rebuilds the full result from its stored body.
v1::ProblemResult ResultToProto(const StoredResult& stored);
OutputArtifact OutputFromProto(const v1::StepOutput& output);
// An artifact as a client registers it or a worker reports it: a sha256
// digest, shared paths that are absolute with no ".." (workers open them),
// worker ids that are plain names. kInvalidArgument naming `what` and the
// problem.
absl::Status ValidateArtifact(const v1::Artifact& artifact, absl::string_view what);
// A step output: a plain name (it names a folder on workers) and a valid
// artifact.
absl::Status ValidateOutput(const v1::StepOutput& output);

}  // namespace cohort::server

#endif  // COHORT_SERVER_SERVICE_CONVERT_H_
