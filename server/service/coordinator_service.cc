// The client-facing Coordinator service.
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "google/protobuf/util/json_util.h"
#include "server/jobgraph/plan.h"
#include "server/service/call_auth.h"
#include "server/service/convert.h"
#include "server/service/limits.h"
#include "server/service/services.h"
#include "server/service/streams.h"

namespace cohort::server {
namespace {

grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* context,
                                 const absl::Status& status) {
  return FinishUnary(context, status);
}

}  // namespace

absl::Status Authorize(Coordinator& coordinator,
                       const grpc::CallbackServerContext* context,
                       std::initializer_list<const char*> roles) {
  return AuthorizeCaller(coordinator, context, roles).status();
}

absl::Status CheckSharedPathRegistration(const std::string& role, const std::string& path,
                                         const std::vector<std::string>& roots) {
  if (role == "admin") return absl::OkStatus();
  for (const std::string& root : roots) {
    std::string dir = std::string(absl::StripSuffix(root, "/"));
    if (dir.empty() || path == dir || absl::StartsWith(path, dir + "/")) return absl::OkStatus();
  }
  return absl::PermissionDeniedError(absl::StrCat(
      "shared path ", path, " is outside cohortd's --shared-root folders",
      roots.empty() ? " (none set: only an admin token may register shared paths)" : ""));
}

absl::StatusOr<Coordinator::Caller> AuthorizeCaller(Coordinator& coordinator,
                                                    const grpc::CallbackServerContext* context,
                                                    std::initializer_list<const char*> roles) {
  const auto& metadata = context->client_metadata();
  auto it = metadata.find("authorization");
  const std::string token =
      it == metadata.end()
          ? ""
          : BearerToken(absl::string_view(it->second.data(), it->second.size()));
  COHORT_ASSIGN_OR_RETURN(Coordinator::Caller caller, coordinator.Identify(token));
  for (const char* allowed : roles) {
    if (caller.role == allowed) return caller;
  }
  return absl::PermissionDeniedError(
      absl::StrCat("a ", caller.role, " token may not call this method"));
}

// A SubmitCampaign call. It keeps what the submit built (the campaign's
// nodes, its plan, the outcome) until gRPC is done with the call: freeing a
// 10^5-step campaign's worth takes 0.04 s, which the reply does not wait
// for when it happens in OnDone.
class SubmitCall final : public grpc::ServerUnaryReactor {
 public:
  void OnDone() override { delete this; }

  std::vector<NodeSpec> nodes;
  std::vector<PlannedStep> planned;
  SubmitOutcome outcome;
};

namespace {

void StepsToProto(const std::vector<PlannedStep>& planned,
                  const absl::flat_hash_map<std::string, StepState>& states,
                  v1::SubmitCampaignResponse* response) {
  for (const PlannedStep& p : planned) {
    v1::Step* step = response->add_steps();
    step->set_key(p.key);
    step->set_kind(static_cast<v1::StepKind>(p.kind));
    step->set_params_json(p.params_json);
    step->set_display_name(p.display_name);
    step->set_node_id(p.node_id);
    for (const std::string& parent : p.parent_keys) step->add_depends_on(parent);
    // Dry run too: a stored step's state says whether it is cached.
    auto state = states.find(p.key);
    if (state != states.end()) step->set_state(static_cast<v1::StepState>(state->second));
  }
}

}  // namespace

grpc::ServerUnaryReactor* CoordinatorService::SubmitCampaign(
    grpc::CallbackServerContext* context, const v1::SubmitCampaignRequest* request,
    v1::SubmitCampaignResponse* response) {
  auto* call = new SubmitCall();
  call->Finish(ToGrpc(Submit(context, *request, *call, response)));
  return call;
}

absl::Status CoordinatorService::Submit(grpc::CallbackServerContext* context,
                                        const v1::SubmitCampaignRequest& request,
                                        SubmitCall& call,
                                        v1::SubmitCampaignResponse* response) {
  COHORT_ASSIGN_OR_RETURN(Coordinator::Caller caller,
                          AuthorizeCaller(coordinator_, context, kClientRoles));
  COHORT_RETURN_IF_ERROR(CheckSubmitLimits(request));
  COHORT_ASSIGN_OR_RETURN(call.nodes, NodesFromProto(request.spec()));
  COHORT_ASSIGN_OR_RETURN(
      call.outcome,
      coordinator_.Submit(request.spec().name(), request.spec().spec_json(),
                          request.spec().priority(), request.idempotency_key(),
                          call.nodes, request.dry_run(), &call.planned, request.rerun(),
                          caller.identity));
  response->set_campaign_id(call.outcome.campaign_id);
  response->set_steps_cached(call.outcome.steps_cached);
  response->set_steps_to_run(call.outcome.steps_to_run);
  response->set_steps_total(call.outcome.steps_total);
  if (request.dry_run() || request.return_steps()) {
    StepsToProto(call.planned, call.outcome.step_states, response);
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* CoordinatorService::FinishCampaign(
    grpc::CallbackServerContext* context, const std::string& id,
    v1::Campaign* response) {
  absl::StatusOr<CampaignRecord> campaign = coordinator_.GetCampaign(id);
  if (!campaign.ok()) return Finish(context, campaign.status());
  CampaignToProto(*campaign, response);
  absl::StatusOr<std::vector<StepRecord>> steps = coordinator_.CampaignSteps(id);
  if (!steps.ok()) return Finish(context, steps.status());
  auto& counts = *response->mutable_steps_by_state();
  for (const StepRecord& step : *steps) {
    counts[std::string(StepStateName(step.state))] += 1;
  }
  return Finish(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* CoordinatorService::GetCampaign(
    grpc::CallbackServerContext* context, const v1::GetCampaignRequest* request,
    v1::Campaign* response) {
  absl::StatusOr<Coordinator::Caller> caller =
      AuthorizeCaller(coordinator_, context, kClientRoles);
  if (!caller.ok()) return Finish(context, caller.status());
  if (absl::Status s = coordinator_.CheckCampaignAccess(*caller, request->campaign_id());
      !s.ok()) {
    return Finish(context, s);
  }
  if (request->include_steps()) {
    absl::StatusOr<std::vector<StepRecord>> steps =
        coordinator_.CampaignSteps(request->campaign_id());
    if (!steps.ok()) return Finish(context, steps.status());
    for (const StepRecord& step : *steps) StepToProto(step, response->add_steps());
  }
  return FinishCampaign(context, request->campaign_id(), response);
}

grpc::ServerUnaryReactor* CoordinatorService::ListCampaigns(
    grpc::CallbackServerContext* context, const v1::ListCampaignsRequest* request,
    v1::ListCampaignsResponse* response) {
  absl::StatusOr<Coordinator::Caller> caller =
      AuthorizeCaller(coordinator_, context, kClientRoles);
  if (!caller.ok()) return Finish(context, caller.status());
  int limit = request->limit() == 0 ? 100 : static_cast<int>(request->limit());
  std::optional<std::string> owner;
  if (caller->role != "admin") owner = caller->identity;
  absl::StatusOr<std::vector<CampaignRecord>> campaigns =
      coordinator_.ListCampaigns(limit, owner);
  if (!campaigns.ok()) return Finish(context, campaigns.status());
  for (const CampaignRecord& c : *campaigns) CampaignToProto(c, response->add_campaigns());
  return Finish(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* CoordinatorService::CancelCampaign(
    grpc::CallbackServerContext* context, const v1::CampaignRef* request,
    v1::Campaign* response) {
  absl::StatusOr<Coordinator::Caller> caller =
      AuthorizeCaller(coordinator_, context, kClientRoles);
  if (!caller.ok()) return Finish(context, caller.status());
  if (absl::Status s = coordinator_.CheckCampaignAccess(*caller, request->campaign_id());
      !s.ok()) {
    return Finish(context, s);
  }
  if (absl::Status s = coordinator_.Cancel(request->campaign_id()); !s.ok()) {
    return Finish(context, s);
  }
  return FinishCampaign(context, request->campaign_id(), response);
}

grpc::ServerUnaryReactor* CoordinatorService::ResumeCampaign(
    grpc::CallbackServerContext* context, const v1::CampaignRef* request,
    v1::Campaign* response) {
  absl::StatusOr<Coordinator::Caller> caller =
      AuthorizeCaller(coordinator_, context, kClientRoles);
  if (!caller.ok()) return Finish(context, caller.status());
  if (absl::Status s = coordinator_.CheckCampaignAccess(*caller, request->campaign_id());
      !s.ok()) {
    return Finish(context, s);
  }
  if (absl::Status s = coordinator_.Resume(request->campaign_id()); !s.ok()) {
    return Finish(context, s);
  }
  return FinishCampaign(context, request->campaign_id(), response);
}

grpc::ServerUnaryReactor* CoordinatorService::RetryStep(
    grpc::CallbackServerContext* context, const v1::RetryStepRequest* request,
    v1::Step* response) {
  absl::StatusOr<Coordinator::Caller> caller =
      AuthorizeCaller(coordinator_, context, kClientRoles);
  if (!caller.ok()) return Finish(context, caller.status());
  if (absl::Status s = coordinator_.CheckStepAccess(*caller, request->step_key());
      !s.ok()) {
    return Finish(context, s);
  }
  if (absl::Status s = coordinator_.Retry(request->step_key()); !s.ok()) {
    return Finish(context, s);
  }
  absl::StatusOr<StepRecord> step = coordinator_.GetStep(request->step_key());
  if (!step.ok()) return Finish(context, step.status());
  StepToProto(*step, response);
  return Finish(context, absl::OkStatus());
}

absl::Status CoordinatorService::CheckScope(const grpc::CallbackServerContext* context,
                                            const std::string& campaign_id,
                                            const std::string& step_key,
                                            const char* everything_needs_admin) {
  COHORT_ASSIGN_OR_RETURN(Coordinator::Caller caller,
                          AuthorizeCaller(coordinator_, context, kClientRoles));
  if (!campaign_id.empty()) return coordinator_.CheckCampaignAccess(caller, campaign_id);
  if (!step_key.empty()) return coordinator_.CheckStepAccess(caller, step_key);
  if (caller.role != "admin") return absl::PermissionDeniedError(everything_needs_admin);
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* CoordinatorService::ListWorkers(
    grpc::CallbackServerContext* context, const v1::ListWorkersRequest*,
    v1::ListWorkersResponse* response) {
  if (absl::Status s = Authorize(coordinator_, context, kClientRoles); !s.ok()) {
    return Finish(context, s);
  }
  absl::StatusOr<std::vector<WorkerRecord>> workers = coordinator_.ListWorkers();
  if (!workers.ok()) return Finish(context, workers.status());
  const absl::Time now = absl::Now();
  const CoordinatorOptions& options = coordinator_.options();
  for (const WorkerRecord& w : *workers) {
    absl::Duration silent = now - w.last_heartbeat;
    if (silent > options.forget_workers_after) continue;
    v1::WorkerInfo* info = response->add_workers();
    (void)google::protobuf::util::JsonStringToMessage(w.info_json, info);
    info->set_id(w.id);
    info->set_last_heartbeat_us(absl::ToUnixMicros(w.last_heartbeat));
    info->set_state(silent > options.lease_duration ? "lost" : "live");
  }
  return Finish(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* CoordinatorService::GetStepLog(
    grpc::CallbackServerContext* context, const v1::GetStepLogRequest* request,
    v1::GetStepLogResponse* response) {
  absl::StatusOr<Coordinator::Caller> caller =
      AuthorizeCaller(coordinator_, context, kClientRoles);
  if (!caller.ok()) return Finish(context, caller.status());
  if (absl::Status s = coordinator_.CheckStepAccess(*caller, request->step_key());
      !s.ok()) {
    return Finish(context, s);
  }
  absl::StatusOr<StepRecord> step = coordinator_.GetStep(request->step_key());
  if (!step.ok()) return Finish(context, step.status());
  // The coordinator keeps the tail its worker reported; the whole log stays
  // on the worker (state dir logs/).
  std::string text = step->log_tail.empty() ? step->last_error : step->log_tail;
  uint64_t offset = std::min<uint64_t>(request->offset(), text.size());
  uint64_t max = request->max_bytes() == 0 ? text.size() : request->max_bytes();
  response->set_data(text.substr(offset, max));
  response->set_next_offset(offset + response->data().size());
  response->set_complete(IsTerminal(step->state));
  return Finish(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* CoordinatorService::RegisterArtifacts(
    grpc::CallbackServerContext* context, const v1::RegisterArtifactsRequest* request,
    v1::RegisterArtifactsResponse* response) {
  absl::StatusOr<Coordinator::Caller> caller =
      AuthorizeCaller(coordinator_, context, kClientRoles);
  if (!caller.ok()) return Finish(context, caller.status());
  if (absl::Status s = CheckRegisterArtifactsLimits(*request); !s.ok()) {
    return Finish(context, s);
  }
  uint32_t added = 0;
  for (const v1::Artifact& a : request->artifacts()) {
    if (absl::Status s = ValidateArtifact(a, "artifact"); !s.ok()) return Finish(context, s);
    for (const v1::ArtifactLocation& where : a.locations()) {
      if (!where.has_shared_path()) continue;
      absl::Status s = CheckSharedPathRegistration(caller->role, where.shared_path(), shared_roots_);
      if (!s.ok()) return Finish(context, s);
    }
  }
  for (const v1::Artifact& a : request->artifacts()) {
    v1::StepOutput wrapped;
    *wrapped.mutable_artifact() = a;
    OutputArtifact artifact = OutputFromProto(wrapped);
    absl::StatusOr<bool> is_new = coordinator_.AddArtifact(artifact);
    if (!is_new.ok()) return Finish(context, is_new.status());
    added += *is_new ? 1 : 0;
  }
  response->set_registered(added);
  return Finish(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* CoordinatorService::ListArtifacts(
    grpc::CallbackServerContext* context, const v1::ListArtifactsRequest* request,
    v1::ListArtifactsResponse* response) {
  absl::StatusOr<Coordinator::Caller> caller =
      AuthorizeCaller(coordinator_, context, kClientRoles);
  if (!caller.ok()) return Finish(context, caller.status());
  if (!request->campaign_id().empty()) {
    if (absl::Status s = coordinator_.CheckCampaignAccess(*caller, request->campaign_id());
      !s.ok()) {
      return Finish(context, s);
    }
  }
  absl::StatusOr<std::vector<OutputArtifact>> artifacts =
      coordinator_.ListArtifacts(request->campaign_id());
  if (!artifacts.ok()) return Finish(context, artifacts.status());
  for (const OutputArtifact& a : *artifacts) {
    if (request->kind() != v1::ARTIFACT_KIND_UNSPECIFIED &&
        static_cast<int>(request->kind()) != a.kind) {
      continue;
    }
    v1::Artifact* out = response->add_artifacts();
    out->set_digest(a.digest);
    out->set_kind(static_cast<v1::ArtifactKind>(a.kind));
    out->set_size_bytes(a.size_bytes);
    out->set_is_folder(a.is_folder);
    LocationsToProto(a.locations, out);
  }
  return Finish(context, absl::OkStatus());
}

grpc::ServerWriteReactor<v1::Event>* CoordinatorService::Watch(
    grpc::CallbackServerContext* context, const v1::WatchRequest* request) {
  absl::Status auth =
      CheckScope(context, request->campaign_id(), "",
                 "watching every campaign needs an admin token; watch one of yours by id");
  return NewWatchReactor(coordinator_, *request, auth);
}

grpc::ServerWriteReactor<v1::ProblemResult>* CoordinatorService::QueryResults(
    grpc::CallbackServerContext* context, const v1::QueryResultsRequest* request) {
  absl::Status auth = CheckScope(
      context, request->campaign_id(), request->step_key(),
      "results of every campaign need an admin token; ask for a campaign or a step");
  return NewResultsReactor(coordinator_, *request, auth);
}

}  // namespace cohort::server
