// The worker-facing gateway: register, long-poll lease, heartbeat, results,
// completion and failure.
#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "common/safe_path.h"
#include "common/transfer_capability.h"
#include "server/service/call_auth.h"
#include "server/service/convert.h"
#include "server/service/limits.h"
#include "server/service/services.h"
#include "server/service/streams.h"

namespace cohort::server {
namespace {

// The longest a lease poll is held open, whatever the worker asks: it must
// come back in time to heartbeat.
constexpr absl::Duration kMaxPoll = absl::Seconds(20);
constexpr absl::Duration kCapabilityLifetime = absl::Hours(6);

grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* context,
                                 const absl::Status& status) {
  return FinishUnary(context, status);
}

}  // namespace

v1::WorkerInfo WorkerGatewayService::InfoOf(const std::string& worker_id) {
  {
    absl::MutexLock lock(&mu_);
    auto it = workers_.find(worker_id);
    if (it != workers_.end()) return it->second;
  }
  v1::WorkerInfo info;
  absl::StatusOr<std::vector<WorkerRecord>> workers = coordinator_.ListWorkers();
  if (workers.ok()) {
    for (const WorkerRecord& w : *workers) {
      if (w.id != worker_id) continue;
      (void)google::protobuf::util::JsonStringToMessage(w.info_json, &info);
      absl::MutexLock lock(&mu_);
      workers_[worker_id] = info;
    }
  }
  return info;
}

void WorkerGatewayService::FillEndpoints(v1::Lease* lease) {
  // Long enough for a big checkpoint: each request is checked when it
  // starts, and a re-lease brings new ones.
  const absl::Time expiry = absl::Now() + kCapabilityLifetime;
  for (v1::Artifact& input : *lease->mutable_inputs()) {
    for (v1::ArtifactLocation& where : *input.mutable_locations()) {
      if (where.has_worker_id()) {
        where.set_endpoint(InfoOf(where.worker_id()).artifact_endpoint());
        where.set_capability(IssueCapability(
            TransferKeyFor(transfer_secret_, where.worker_id()), input.digest(), expiry));
      }
    }
  }
}

grpc::ServerUnaryReactor* WorkerGatewayService::Register(
    grpc::CallbackServerContext* context, const v1::RegisterRequest* request,
    v1::RegisterResponse* response) {
  absl::StatusOr<Coordinator::Caller> caller =
      AuthorizeCaller(coordinator_, context, kWorkerRoles);
  if (!caller.ok()) return Finish(context, caller.status());
  if (absl::Status s = CheckRegisterLimits(*request); !s.ok()) return Finish(context, s);
  v1::WorkerInfo info = request->worker();
  if (info.id().empty()) info.set_id(caller->worker_id.empty() ? RandomId("w-") : caller->worker_id);
  if (!caller->worker_id.empty() && info.id() != caller->worker_id) {
    return Finish(context, absl::PermissionDeniedError(absl::StrCat(
                               "this worker token is for worker ", caller->worker_id,
                               ", not ", info.id())));
  }
  // The id names the worker in artifact locations ("worker:<id>").
  if (absl::Status s = CheckPlainName(info.id(), "worker id"); !s.ok()) {
    return Finish(context, s);
  }
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(info, &json);
  absl::StatusOr<std::vector<LeaseGrant>> held =
      coordinator_.Register(info.id(), json, caller->role == "admin" ? "" : caller->token_hash);
  if (!held.ok()) return Finish(context, held.status());
  {
    absl::MutexLock lock(&mu_);
    workers_[info.id()] = info;
  }
  response->set_worker_id(info.id());
  response->set_transfer_key(TransferKeyFor(transfer_secret_, info.id()));
  response->set_heartbeat_interval_ms(static_cast<uint32_t>(
      absl::ToInt64Milliseconds(coordinator_.options().heartbeat_interval)));
  response->set_lease_duration_ms(static_cast<uint32_t>(
      absl::ToInt64Milliseconds(coordinator_.options().lease_duration)));
  for (const LeaseGrant& grant : *held) {
    v1::Lease* lease = response->add_leases();
    LeaseToProto(grant, lease);
    FillEndpoints(lease);
  }
  return Finish(context, absl::OkStatus());
}

uint64_t WorkerGatewayService::UnfinishedSteps() {
  absl::StatusOr<std::map<StepState, int64_t>> counts = coordinator_.StepCounts();
  if (!counts.ok()) return 1;  // unknown: not idle
  uint64_t unfinished = 0;
  for (StepState state : {StepState::kWaiting, StepState::kReady, StepState::kLeased}) {
    auto found = counts->find(state);
    if (found != counts->end() && found->second > 0) unfinished += found->second;
  }
  return unfinished;
}

grpc::ServerUnaryReactor* WorkerGatewayService::Lease(
    grpc::CallbackServerContext* context, const v1::LeaseRequest* request,
    v1::LeaseResponse* response) {
  absl::StatusOr<Coordinator::Caller> caller =
      AuthorizeCaller(coordinator_, context, kWorkerRoles);
  if (!caller.ok()) return Finish(context, caller.status());
  if (absl::Status s = coordinator_.CheckActsAsWorker(*caller, request->worker_id()); !s.ok()) {
    return Finish(context, s);
  }
  WorkerCapacity capacity =
      CapacityFromLeaseRequest(*request, InfoOf(request->worker_id()));
  absl::Duration wait = std::min(absl::Milliseconds(request->wait_ms()), kMaxPoll);
  // Answer a little before the caller's own deadline expires.
  absl::Time client_deadline = absl::FromChrono(context->deadline());
  absl::Time deadline = std::min(absl::Now() + wait,
                                 client_deadline - absl::Milliseconds(200));
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  coordinator_.LeaseOrWait(
      capacity, deadline,
      [this, context, reactor, response](absl::StatusOr<std::optional<LeaseGrant>> grant) {
        if (!grant.ok()) {
          reactor->Finish(ToGrpc(grant.status()));
          return;
        }
        // A worker killed while parked leaves its poll waiting until the
        // deadline; a step granted to it would sit leased to nobody until
        // the lease expired, and spend an attempt. Give it back instead.
        if (grant->has_value() && context->IsCancelled()) {
          const LeaseGrant& lost = **grant;
          (void)coordinator_.ReturnUndelivered({lost.lease_id, lost.epoch, ""});
          reactor->Finish(grpc::Status::CANCELLED);
          return;
        }
        if (grant->has_value()) {
          v1::Lease* lease = response->add_leases();
          LeaseToProto(**grant, lease);
          FillEndpoints(lease);
        } else {
          response->set_unfinished_steps(UnfinishedSteps());
        }
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

grpc::ServerUnaryReactor* WorkerGatewayService::Heartbeat(
    grpc::CallbackServerContext* context, const v1::HeartbeatRequest* request,
    v1::HeartbeatResponse* response) {
  absl::StatusOr<Coordinator::Caller> caller =
      AuthorizeCaller(coordinator_, context, kWorkerRoles);
  if (!caller.ok()) return Finish(context, caller.status());
  if (absl::Status s = coordinator_.CheckActsAsWorker(*caller, request->worker_id()); !s.ok()) {
    return Finish(context, s);
  }
  if (absl::Status s = CheckHeartbeatLimits(*request); !s.ok()) return Finish(context, s);
  std::vector<LeaseRef> leases;
  for (const v1::LeaseStatus& l : request->leases()) {
    std::string progress;
    // An empty progress (a step whose tool reports none) is not stored: it
    // would only repeat zeros into the watch feed.
    const v1::StepProgress& p = l.progress();
    if (l.has_progress() && (p.total() > 0 || !p.message().empty() || p.gpus_size() > 0)) {
      progress = ProgressToJson(p);
    }
    leases.push_back({l.lease_id(), l.epoch(), progress});
  }
  absl::StatusOr<HeartbeatOutcome> outcome =
      coordinator_.Heartbeat(request->worker_id(), leases);
  if (!outcome.ok()) return Finish(context, outcome.status());
  for (const auto& id : outcome->renewed) response->add_renewed_lease_ids(id);
  for (const auto& id : outcome->revoked) response->add_revoked_lease_ids(id);
  response->set_new_expiry_us(absl::ToUnixMicros(outcome->new_expiry));
  return Finish(context, absl::OkStatus());
}

grpc::ServerBidiReactor<v1::ReportResultsRequest, v1::ReportResultsResponse>*
WorkerGatewayService::ReportResults(grpc::CallbackServerContext* context) {
  return NewReportResultsReactor(coordinator_,
                                 AuthorizeCaller(coordinator_, context, kWorkerRoles));
}

grpc::ServerUnaryReactor* WorkerGatewayService::CompleteStep(
    grpc::CallbackServerContext* context, const v1::CompleteStepRequest* request,
    v1::CompleteStepResponse*) {
  absl::StatusOr<Coordinator::Caller> caller =
      AuthorizeCaller(coordinator_, context, kWorkerRoles);
  if (!caller.ok()) return Finish(context, caller.status());
  if (absl::Status s = coordinator_.CheckHoldsLease(*caller, request->lease_id()); !s.ok()) {
    return Finish(context, s);
  }
  if (absl::Status s = CheckCompleteLimits(*request); !s.ok()) return Finish(context, s);
  std::vector<OutputArtifact> outputs;
  for (const v1::StepOutput& out : request->outputs()) {
    if (absl::Status s = ValidateOutput(out); !s.ok()) return Finish(context, s);
    outputs.push_back(OutputFromProto(out));
  }
  std::string gate_reason;
  if (request->gate_failed()) {
    gate_reason = request->gate_reason().empty() ? "gate condition did not hold"
                                                  : request->gate_reason();
  }
  return Finish(context,
                coordinator_.Complete({request->lease_id(), request->epoch(), ""},
                                      outputs, gate_reason, request->log_tail(),
                                      request->facts_json()));
}

grpc::ServerUnaryReactor* WorkerGatewayService::FailStep(
    grpc::CallbackServerContext* context, const v1::FailStepRequest* request,
    v1::FailStepResponse* response) {
  absl::StatusOr<Coordinator::Caller> caller =
      AuthorizeCaller(coordinator_, context, kWorkerRoles);
  if (!caller.ok()) return Finish(context, caller.status());
  if (absl::Status s = coordinator_.CheckHoldsLease(*caller, request->lease_id()); !s.ok()) {
    return Finish(context, s);
  }
  if (absl::Status s = CheckFailLimits(*request); !s.ok()) return Finish(context, s);
  absl::StatusOr<bool> retry =
      coordinator_.Fail({request->lease_id(), request->epoch(), ""},
                        request->status_code(), request->message(), request->log_tail(),
                        request->input_unavailable());
  if (!retry.ok()) return Finish(context, retry.status());
  response->set_will_retry(*retry);
  return Finish(context, absl::OkStatus());
}

}  // namespace cohort::server
