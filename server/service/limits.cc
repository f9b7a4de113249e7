#include "server/service/limits.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace cohort::server {
namespace {

using L = RequestLimits;

// A field's name, in up to three parts joined only when its limit is passed:
// the checks run for every field of every step of a 10^5-step campaign,
// where building each name up front cost 0.06 s.
struct Field {
  Field(const char* name) : head(name) {}  // NOLINT: a literal names a field
  Field(absl::string_view head, absl::string_view middle, absl::string_view tail)
      : head(head), middle(middle), tail(tail) {}
  std::string Name() const { return absl::StrCat(head, middle, tail); }
  absl::string_view head, middle, tail;
};

absl::Status Count(const Field& field, size_t count, size_t limit) {
  if (count <= limit) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      field.Name(), " has ", count, " entries; at most ", limit, " are accepted"));
}

absl::Status Bytes(const Field& field, const std::string& text, size_t limit) {
  if (text.size() <= limit) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      field.Name(), " is ", text.size(), " bytes; at most ", limit, " are accepted"));
}

// A name shown to people (campaign, step and worker names, labels, versions):
// within its limit and free of control characters. A newline or an escape
// sequence in a name forged lines in logs and in other users' `cohort status`.
absl::Status Name(const Field& field, const std::string& text, size_t limit) {
  COHORT_RETURN_IF_ERROR(Bytes(field, text, limit));
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7F) {
      return absl::InvalidArgumentError(absl::StrCat(
          field.Name(), " holds a control character (byte 0x", absl::Hex(c, absl::kZeroPad2),
          " at offset ", i, "); names are printable text"));
    }
  }
  return absl::OkStatus();
}

template <typename Strings>
absl::Status EachName(const Field& field, const Strings& texts, size_t limit) {
  for (const std::string& text : texts) COHORT_RETURN_IF_ERROR(Name(field, text, limit));
  return absl::OkStatus();
}

template <typename Strings>
absl::Status EachBytes(const Field& field, const Strings& texts, size_t limit) {
  for (const std::string& text : texts) COHORT_RETURN_IF_ERROR(Bytes(field, text, limit));
  return absl::OkStatus();
}

absl::Status CheckStep(const v1::StepSpec& step) {
  COHORT_RETURN_IF_ERROR(Name("a step's node_id", step.node_id(), L::kIdBytes));
  // Names "step 'ID' <what>"; the id is within its limit from here on.
  auto field = [id = absl::string_view(step.node_id())](absl::string_view what) {
    return Field("step '", id, what);
  };
  COHORT_RETURN_IF_ERROR(Name(field("' display_name"), step.display_name(), L::kIdBytes));
  COHORT_RETURN_IF_ERROR(Name(field("' model"), step.model(), L::kIdBytes));
  COHORT_RETURN_IF_ERROR(Name(field("' suite"), step.suite(), L::kIdBytes));
  COHORT_RETURN_IF_ERROR(Bytes(field("' implementation_version"),
                               step.implementation_version(), L::kIdBytes));
  COHORT_RETURN_IF_ERROR(Bytes(field("' params_json"), step.params_json(), L::kParamsBytes));
  COHORT_RETURN_IF_ERROR(Count(field("' inputs"), step.inputs_size(), L::kStepInputs));
  for (const v1::StepSpecInput& in : step.inputs()) {
    COHORT_RETURN_IF_ERROR(Bytes(field("' input name"), in.name(), L::kIdBytes));
    COHORT_RETURN_IF_ERROR(Bytes(field("' input digest"), in.artifact_digest(), L::kIdBytes));
    COHORT_RETURN_IF_ERROR(
        Bytes(field("' input node_id"), in.node_output().node_id(), L::kIdBytes));
    COHORT_RETURN_IF_ERROR(
        Bytes(field("' input output"), in.node_output().output(), L::kIdBytes));
  }
  const v1::Requirements& req = step.requirements();
  COHORT_RETURN_IF_ERROR(
      Count(field("'.requirements.labels"), req.labels_size(), L::kRequirementLabels));
  COHORT_RETURN_IF_ERROR(
      Count(field("'.requirements.tools"), req.tools_size(), L::kRequirementLabels));
  COHORT_RETURN_IF_ERROR(
      EachName(field("'.requirements.labels[]"), req.labels(), L::kIdBytes));
  return EachName(field("'.requirements.tools[]"), req.tools(), L::kIdBytes);
}

absl::Status CheckArtifact(absl::string_view where, const v1::Artifact& artifact) {
  COHORT_RETURN_IF_ERROR(Bytes(Field(where, " digest", ""), artifact.digest(), L::kIdBytes));
  COHORT_RETURN_IF_ERROR(Count(Field(where, " locations", ""), artifact.locations_size(),
                               L::kLocationsPerArtifact));
  for (const v1::ArtifactLocation& loc : artifact.locations()) {
    COHORT_RETURN_IF_ERROR(
        Bytes(Field(where, " worker_id", ""), loc.worker_id(), L::kIdBytes));
    // A path may be long, but not longer than Linux opens.
    COHORT_RETURN_IF_ERROR(
        Bytes(Field(where, " shared_path", ""), loc.shared_path(), 4096));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckSubmitLimits(const v1::SubmitCampaignRequest& request) {
  const v1::CampaignSpec& spec = request.spec();
  COHORT_RETURN_IF_ERROR(Name("spec.name", spec.name(), L::kIdBytes));
  COHORT_RETURN_IF_ERROR(Bytes("idempotency_key", request.idempotency_key(), L::kIdBytes));
  COHORT_RETURN_IF_ERROR(Bytes("spec.spec_json", spec.spec_json(), L::kSpecJsonBytes));
  COHORT_RETURN_IF_ERROR(Count("spec.steps", spec.steps_size(), L::kCampaignSteps));
  COHORT_RETURN_IF_ERROR(Count("spec.labels", spec.labels_size(), L::kRequirementLabels));
  for (const auto& [key, value] : spec.labels()) {
    COHORT_RETURN_IF_ERROR(Name("a spec label", key, L::kIdBytes));
    COHORT_RETURN_IF_ERROR(Name("a spec label value", value, L::kIdBytes));
  }
  for (const v1::StepSpec& step : spec.steps()) COHORT_RETURN_IF_ERROR(CheckStep(step));
  return absl::OkStatus();
}

absl::Status CheckRegisterArtifactsLimits(const v1::RegisterArtifactsRequest& request) {
  COHORT_RETURN_IF_ERROR(
      Count("artifacts", request.artifacts_size(), L::kArtifactsPerRequest));
  for (const v1::Artifact& a : request.artifacts()) {
    COHORT_RETURN_IF_ERROR(CheckArtifact("an artifact", a));
    COHORT_RETURN_IF_ERROR(Bytes("an artifact's produced_by_step", a.produced_by_step(),
                                 L::kIdBytes));
  }
  return absl::OkStatus();
}

absl::Status CheckRegisterLimits(const v1::RegisterRequest& request) {
  const v1::WorkerInfo& w = request.worker();
  COHORT_RETURN_IF_ERROR(Name("worker.id", w.id(), L::kIdBytes));
  COHORT_RETURN_IF_ERROR(Name("worker.hostname", w.hostname(), L::kIdBytes));
  COHORT_RETURN_IF_ERROR(Bytes("worker.artifact_endpoint", w.artifact_endpoint(), L::kIdBytes));
  COHORT_RETURN_IF_ERROR(Name("worker.version", w.version(), L::kIdBytes));
  COHORT_RETURN_IF_ERROR(Count("worker.gpus", w.gpus_size(), L::kWorkerListEntries));
  COHORT_RETURN_IF_ERROR(Count("worker.tools", w.tools_size(), L::kWorkerListEntries));
  COHORT_RETURN_IF_ERROR(Count("worker.labels", w.labels_size(), L::kWorkerListEntries));
  COHORT_RETURN_IF_ERROR(
      Count("worker.held_artifacts", w.held_artifacts_size(), L::kWorkerHeldArtifacts));
  COHORT_RETURN_IF_ERROR(EachName("worker.labels[]", w.labels(), L::kIdBytes));
  COHORT_RETURN_IF_ERROR(EachBytes("worker.held_artifacts[]", w.held_artifacts(), L::kIdBytes));
  for (const v1::GpuInfo& gpu : w.gpus()) {
    COHORT_RETURN_IF_ERROR(Name("worker.gpus[].model", gpu.model(), L::kIdBytes));
  }
  for (const v1::ToolInfo& tool : w.tools()) {
    COHORT_RETURN_IF_ERROR(Name("worker.tools[].name", tool.name(), L::kIdBytes));
    COHORT_RETURN_IF_ERROR(Bytes("worker.tools[].version", tool.version(), L::kTextBytes));
    COHORT_RETURN_IF_ERROR(
        Bytes("worker.tools[].fingerprint", tool.fingerprint(), L::kTextBytes));
  }
  return absl::OkStatus();
}

absl::Status CheckHeartbeatLimits(const v1::HeartbeatRequest& request) {
  COHORT_RETURN_IF_ERROR(Bytes("worker_id", request.worker_id(), L::kIdBytes));
  COHORT_RETURN_IF_ERROR(Count("leases", request.leases_size(), L::kLeasesPerHeartbeat));
  for (const v1::LeaseStatus& lease : request.leases()) {
    COHORT_RETURN_IF_ERROR(Bytes("a lease_id", lease.lease_id(), L::kIdBytes));
    COHORT_RETURN_IF_ERROR(Bytes("a lease's progress.unit", lease.progress().unit(), L::kIdBytes));
    COHORT_RETURN_IF_ERROR(
        Bytes("a lease's progress.message", lease.progress().message(), L::kTextBytes));
    COHORT_RETURN_IF_ERROR(
        Count("a lease's progress.gpus", lease.progress().gpus_size(), L::kWorkerListEntries));
  }
  return absl::OkStatus();
}

absl::Status CheckResultsLimits(const v1::ReportResultsRequest& request) {
  COHORT_RETURN_IF_ERROR(Bytes("lease_id", request.lease_id(), L::kIdBytes));
  COHORT_RETURN_IF_ERROR(Count("results", request.results_size(), L::kResultsPerBatch));
  for (const v1::ProblemResult& r : request.results()) {
    COHORT_RETURN_IF_ERROR(Bytes("a result's problem_id", r.problem_id(), L::kIdBytes));
    COHORT_RETURN_IF_ERROR(Bytes("a result's finish_reason", r.finish_reason(), L::kIdBytes));
    COHORT_RETURN_IF_ERROR(
        Bytes("a result's scorer_version", r.scorer_version(), L::kIdBytes));
    size_t bytes = r.ByteSizeLong();
    if (bytes > L::kResultBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "result ", r.problem_id(), " is ", bytes, " bytes; at most ", L::kResultBytes,
          " are accepted"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckCompleteLimits(const v1::CompleteStepRequest& request) {
  COHORT_RETURN_IF_ERROR(Bytes("lease_id", request.lease_id(), L::kIdBytes));
  COHORT_RETURN_IF_ERROR(Bytes("log_tail", request.log_tail(), L::kTextBytes));
  COHORT_RETURN_IF_ERROR(Bytes("gate_reason", request.gate_reason(), L::kTextBytes));
  COHORT_RETURN_IF_ERROR(Bytes("facts_json", request.facts_json(), L::kTextBytes));
  COHORT_RETURN_IF_ERROR(Count("outputs", request.outputs_size(), L::kOutputsPerStep));
  for (const v1::StepOutput& out : request.outputs()) {
    COHORT_RETURN_IF_ERROR(Bytes("an output name", out.name(), L::kIdBytes));
    COHORT_RETURN_IF_ERROR(CheckArtifact("an output", out.artifact()));
  }
  return absl::OkStatus();
}

absl::Status CheckFailLimits(const v1::FailStepRequest& request) {
  COHORT_RETURN_IF_ERROR(Bytes("lease_id", request.lease_id(), L::kIdBytes));
  COHORT_RETURN_IF_ERROR(Bytes("message", request.message(), L::kTextBytes));
  return Bytes("log_tail", request.log_tail(), L::kTextBytes);
}

}  // namespace cohort::server
