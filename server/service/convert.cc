#include "server/service/convert.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/canonical_json.h"
#include "common/safe_path.h"
#include "nlohmann/json.hpp"
#include "server/jobgraph/plan.h"

namespace cohort::server {

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl codes are numerically the gRPC codes.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

grpc::ServerUnaryReactor* FinishUnary(grpc::CallbackServerContext* context,
                                      const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpc(status));
  return reactor;
}

void LocationsToProto(const std::vector<std::string>& locations, v1::Artifact* out) {
  for (const std::string& location : locations) {
    v1::ArtifactLocation* where = out->add_locations();
    if (location.rfind("worker:", 0) == 0) {
      where->set_worker_id(location.substr(7));
    } else if (location.rfind("path:", 0) == 0) {
      where->set_shared_path(location.substr(5));
    }
  }
}

Requirements RequirementsFromProto(const v1::Requirements& req) {
  Requirements r;
  r.gpus = req.gpus();
  r.gpu_memory_bytes = req.gpu_memory_bytes();
  r.disk_bytes = req.disk_bytes();
  r.memory_bytes = req.memory_bytes();
  r.labels.assign(req.labels().begin(), req.labels().end());
  r.tools.assign(req.tools().begin(), req.tools().end());
  return r;
}

void RequirementsToProto(const Requirements& req, v1::Requirements* out) {
  out->set_gpus(req.gpus);
  out->set_gpu_memory_bytes(req.gpu_memory_bytes);
  out->set_disk_bytes(req.disk_bytes);
  out->set_memory_bytes(req.memory_bytes);
  for (const auto& l : req.labels) out->add_labels(l);
  for (const auto& t : req.tools) out->add_tools(t);
}

absl::StatusOr<std::vector<NodeSpec>> NodesFromProto(const v1::CampaignSpec& spec) {
  std::vector<NodeSpec> nodes;
  nodes.reserve(spec.steps_size());
  for (const v1::StepSpec& s : spec.steps()) {
    NodeSpec node;
    node.node_id = s.node_id();
    node.kind = static_cast<StepKind>(s.kind());
    node.params_json = s.params_json().empty() ? "{}" : s.params_json();
    node.requirements = RequirementsFromProto(s.requirements());
    node.display_name = s.display_name();
    node.model = s.model();
    node.suite = s.suite();
    node.max_attempts = s.max_attempts();
    node.impl_version = s.implementation_version().empty() ? "1"
                                                           : s.implementation_version();
    node.inputs.reserve(s.inputs_size());
    for (const v1::StepSpecInput& in : s.inputs()) {
      NodeInput input;
      input.name = in.name();
      if (in.has_node_output()) {
        input.node_id = in.node_output().node_id();
        input.output = in.node_output().output();
      } else {
        input.artifact_digest = in.artifact_digest();
      }
      node.inputs.push_back(std::move(input));
    }
    nodes.push_back(std::move(node));
  }
  return nodes;
}

void StepToProto(const StepRecord& step, v1::Step* out) {
  out->set_key(step.key);
  out->set_kind(static_cast<v1::StepKind>(step.kind));
  out->set_params_json(step.params_json);
  out->set_state(static_cast<v1::StepState>(step.state));
  out->set_attempts(step.attempts);
  out->set_max_attempts(step.max_attempts);
  RequirementsToProto(step.requirements, out->mutable_requirements());
  out->set_priority(step.priority);
  out->set_worker_id(step.worker_id);
  out->set_lease_epoch(step.lease_epoch);
  if (step.lease_expiry != absl::InfinitePast()) {
    out->set_lease_expiry_us(absl::ToUnixMicros(step.lease_expiry));
  }
  out->set_last_error(step.last_error);
  out->set_display_name(step.display_name);
  out->set_gate_reason(step.gate_reason);
  out->set_facts_json(step.facts_json);
  out->set_node_id(step.node_id);
  for (const OutputArtifact& produced : step.outputs) {
    v1::StepOutput* output = out->add_outputs();
    output->set_name(produced.name);
    v1::Artifact* artifact = output->mutable_artifact();
    artifact->set_digest(produced.digest);
    artifact->set_kind(static_cast<v1::ArtifactKind>(produced.kind));
    artifact->set_size_bytes(produced.size_bytes);
    artifact->set_is_folder(produced.is_folder);
  }
  for (const StepInput& in : step.inputs) {
    v1::StepInput* input = out->add_inputs();
    input->set_name(in.name);
    input->set_digest(in.artifact_digest);
    if (!in.source_step_key.empty()) out->add_depends_on(in.source_step_key);
  }
  if (!step.progress_json.empty()) {
    *out->mutable_progress() = ProgressFromJson(step.progress_json);
  }
}

namespace {

uint64_t ProgressCount(const nlohmann::json& p, const char* field) {
  auto it = p.find(field);
  if (it == p.end()) return 0;
  if (it->is_number_unsigned()) return it->get<uint64_t>();
  if (it->is_number_integer()) return static_cast<uint64_t>(std::max<int64_t>(0, it->get<int64_t>()));
  uint64_t value = 0;
  if (it->is_string() && absl::SimpleAtoi(it->get_ref<const std::string&>(), &value)) return value;
  return 0;
}

std::string ProgressText(const nlohmann::json& p, const char* field) {
  auto it = p.find(field);
  return it != p.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

std::string ProgressToJson(const v1::StepProgress& progress) {
  nlohmann::json p = {{"done", progress.done()},   {"total", progress.total()},
                      {"passed", progress.passed()}, {"unit", progress.unit()},
                      {"message", progress.message()}};
  if (progress.gpus_size() > 0) {
    p["gpus"] = std::vector<uint32_t>(progress.gpus().begin(), progress.gpus().end());
  }
  return p.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

v1::StepProgress ProgressFromJson(absl::string_view json) {
  v1::StepProgress progress;
  nlohmann::json p = ParseJsonOrDiscarded(json);
  if (!p.is_object()) return progress;
  progress.set_done(ProgressCount(p, "done"));
  progress.set_total(ProgressCount(p, "total"));
  progress.set_passed(ProgressCount(p, "passed"));
  progress.set_unit(ProgressText(p, "unit"));
  progress.set_message(ProgressText(p, "message"));
  auto gpus = p.find("gpus");
  if (gpus != p.end() && gpus->is_array()) {
    for (const nlohmann::json& g : *gpus) {
      if (g.is_number_unsigned() && g.get<uint64_t>() < 1024) progress.add_gpus(g.get<uint32_t>());
    }
  }
  return progress;
}

void CampaignToProto(const CampaignRecord& campaign, v1::Campaign* out) {
  out->set_id(campaign.id);
  out->set_name(campaign.name);
  out->set_state(static_cast<v1::CampaignState>(campaign.state));
  out->set_created_us(absl::ToUnixMicros(campaign.created));
  if (campaign.finished.has_value()) {
    out->set_finished_us(absl::ToUnixMicros(*campaign.finished));
  }
  out->set_spec_json(campaign.spec_json);
}

void LeaseToProto(const LeaseGrant& grant, v1::Lease* out) {
  out->set_lease_id(grant.lease_id);
  out->set_epoch(grant.epoch);
  out->set_expiry_us(absl::ToUnixMicros(grant.expiry));
  StepToProto(grant.step, out->mutable_step());
  // Step inputs fed by upstream outputs carry the digest those outputs got.
  for (int i = 0; i < out->step().inputs_size() &&
                  i < static_cast<int>(grant.inputs.size());
       ++i) {
    out->mutable_step()->mutable_inputs(i)->set_digest(grant.inputs[i].second.digest);
  }
  for (const auto& [name, artifact] : grant.inputs) {
    v1::Artifact* a = out->add_inputs();
    a->set_digest(artifact.digest);
    a->set_kind(static_cast<v1::ArtifactKind>(artifact.kind));
    a->set_size_bytes(artifact.size_bytes);
    a->set_is_folder(artifact.is_folder);
    LocationsToProto(artifact.locations, a);
  }
}

void EventToProto(const EventRecord& event, v1::Event* out) {
  out->set_cursor(event.cursor);
  out->set_type(static_cast<v1::EventType>(event.type));
  out->set_time_us(absl::ToUnixMicros(event.time));
  out->set_campaign_id(event.campaign_id);
  out->set_step_key(event.step_key);
  out->set_step_state(static_cast<v1::StepState>(event.step_state));
  out->set_worker_id(event.worker_id);
  if (event.type == EventType::kStepProgress) {
    // The heartbeat's progress, stored as typed JSON in the message.
    *out->mutable_progress() = ProgressFromJson(event.message);
    return;
  }
  out->set_message(event.message);
}

WorkerCapacity CapacityFromLeaseRequest(const v1::LeaseRequest& request,
                                        const v1::WorkerInfo& info) {
  WorkerCapacity w;
  w.worker_id = request.worker_id();
  w.free_slots = request.free_slots();
  w.free_gpus = request.free_gpus();
  w.free_disk_bytes = request.free_disk_bytes();
  w.memory_bytes = info.memory_bytes();
  uint64_t smallest = 0;
  for (const v1::GpuInfo& gpu : info.gpus()) {
    if (smallest == 0 || gpu.memory_bytes() < smallest) smallest = gpu.memory_bytes();
  }
  w.gpu_memory_bytes = smallest;
  w.labels.assign(info.labels().begin(), info.labels().end());
  for (const v1::ToolInfo& tool : info.tools()) w.tools.push_back(tool.name());
  return w;
}

ResultRow ResultFromProto(const v1::ProblemResult& result) {
  ResultRow row;
  row.problem_id = result.problem_id();
  row.sample_index = result.sample_index();
  row.verdict = static_cast<int>(result.verdict());
  row.finish_reason = result.finish_reason();
  row.completion_tokens = result.completion_tokens();
  row.reasoning_tokens = result.reasoning_tokens();
  row.completion_chars = result.completion_chars();
  row.reasoning_chars = result.reasoning_chars();
  row.extracted_answer = result.extracted_answer();
  row.scorer_version = result.scorer_version();
  row.body = result.SerializeAsString();
  return row;
}

v1::ProblemResult ResultToProto(const StoredResult& stored) {
  v1::ProblemResult result;
  result.ParseFromString(stored.row.body);
  result.set_step_key(stored.step_key);
  return result;
}

OutputArtifact OutputFromProto(const v1::StepOutput& output) {
  OutputArtifact out;
  out.name = output.name();
  out.digest = output.artifact().digest();
  out.kind = static_cast<int>(output.artifact().kind());
  out.size_bytes = output.artifact().size_bytes();
  out.is_folder = output.artifact().is_folder();
  for (const v1::ArtifactLocation& where : output.artifact().locations()) {
    if (where.has_worker_id()) out.locations.push_back("worker:" + where.worker_id());
    if (where.has_shared_path()) out.locations.push_back("path:" + where.shared_path());
  }
  return out;
}

absl::Status ValidateArtifact(const v1::Artifact& artifact, absl::string_view what) {
  if (!IsValidDigest(artifact.digest())) {
    return absl::InvalidArgumentError(absl::StrCat(what, " has digest '", artifact.digest(),
                                                   "', not sha256:<64 hex>"));
  }
  for (const v1::ArtifactLocation& where : artifact.locations()) {
    absl::Status s;
    if (where.has_shared_path()) {
      s = CheckAbsolutePath(where.shared_path(), "shared_path");
    } else if (where.has_worker_id()) {
      s = CheckPlainName(where.worker_id(), "worker_id");
    }
    if (!s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(what, " ", artifact.digest(), ": ",
                                                     s.message()));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateOutput(const v1::StepOutput& output) {
  if (absl::Status s = CheckPlainName(output.name(), "output name"); !s.ok()) return s;
  return ValidateArtifact(output.artifact(), absl::StrCat("output '", output.name(), "'"));
}

}  // namespace cohort::server
