// submit, status, cancel, resume, retry, logs, workers, artifacts.
#include <cstdio>
#include <map>
#include <optional>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "client/cli/rpc.h"
#include "client/spec/check.h"
#include "client/spec/inputs.h"
#include "common/canonical_json.h"
#include "common/random.h"
#include "common/status_macros.h"

namespace cohort::client {
namespace {

v1::ArtifactKind ArtifactKindOf(const std::string& kind) {
  if (kind == "checkpoint") return v1::ARTIFACT_KIND_CHECKPOINT;
  if (kind == "contribution") return v1::ARTIFACT_KIND_CONTRIBUTION;
  if (kind == "dataset") return v1::ARTIFACT_KIND_DATASET;
  if (kind == "gguf") return v1::ARTIFACT_KIND_GGUF;
  if (kind == "drop_map") return v1::ARTIFACT_KIND_DROP_MAP;
  return v1::ARTIFACT_KIND_UNSPECIFIED;
}

absl::StatusOr<v1::CampaignSpec> ToProto(const Spec& spec, const Graph& graph) {
  v1::CampaignSpec out;
  out.set_name(spec.name);
  COHORT_ASSIGN_OR_RETURN(std::string spec_json, CanonicalJson(NormalizedSpecJson(spec)));
  out.set_spec_json(spec_json);
  out.set_priority(spec.priority);
  for (const auto& [k, v] : spec.labels) (*out.mutable_labels())[k] = v;
  for (const GraphNode& node : graph.nodes) {
    v1::StepSpec* step = out.add_steps();
    step->set_node_id(node.id);
    step->set_kind(KindFromName(node.kind));
    COHORT_ASSIGN_OR_RETURN(std::string params, CanonicalJson(node.params));
    step->set_params_json(params);
    step->set_display_name(node.display_name);
    step->set_model(node.model);
    step->set_suite(node.suite);
    step->mutable_requirements()->set_gpus(node.gpus);
    if (spec.max_attempts > 0) step->set_max_attempts(spec.max_attempts);
    for (const std::string& t : node.tools) step->mutable_requirements()->add_tools(t);
    for (const GraphInput& in : node.inputs) {
      v1::StepSpecInput* input = step->add_inputs();
      input->set_name(in.name);
      if (!in.digest.empty()) {
        input->set_artifact_digest(in.digest);
      } else {
        input->mutable_node_output()->set_node_id(in.node_id);
        input->mutable_node_output()->set_output(in.output);
      }
    }
  }
  return out;
}

absl::Status Register(Connection& conn, const std::vector<UserArtifact>& artifacts) {
  if (artifacts.empty()) return absl::OkStatus();
  v1::RegisterArtifactsRequest request;
  for (const UserArtifact& a : artifacts) {
    v1::Artifact* out = request.add_artifacts();
    out->set_digest(a.digest);
    out->set_kind(ArtifactKindOf(a.kind));
    out->set_size_bytes(a.size_bytes);
    out->set_is_folder(a.is_folder);
    out->add_locations()->set_shared_path(a.path);
  }
  v1::RegisterArtifactsResponse response;
  return FromGrpc(conn.stub().RegisterArtifacts(conn.Context().get(), request, &response),
                  "registering inputs");
}

void PrintGraph(const v1::SubmitCampaignResponse& r) {
  std::printf("%-8s %-10s %-21s %s\n", "STATUS", "KIND", "KEY", "STEP");
  for (const v1::Step& s : r.steps()) {
    std::string status = s.state() == v1::STEP_STATE_SUCCEEDED ? "cached"
                         : s.state() == v1::STEP_STATE_UNSPECIFIED ? "planned"
                                                                   : "run";
    std::printf("%-8s %-10s %-21s %s\n", status.c_str(), KindName(s.kind()).c_str(),
                ShortKey(s.key()).c_str(), s.display_name().c_str());
  }
}

absl::Status Submit(const GlobalOptions& g, const SubmitOptions& o) {
  SubmitFlags flags;
  flags.dry_run = o.dry_run;
  flags.rerun = o.rerun;
  flags.idempotency_key = o.idempotency_key;
  COHORT_ASSIGN_OR_RETURN(Submission s, SubmitSpecFile(g, o.spec_file, flags));
  const v1::SubmitCampaignResponse& response = s.response;
  if (o.dry_run) {
    std::printf("dry run of '%s': %zu variants, %u steps\n", s.spec.name.c_str(),
                s.spec.variants.size(), response.steps_total());
    PrintGraph(response);
    if (o.rerun) {
      std::printf("%u steps to run again (--rerun)\n", response.steps_total());
    } else {
      std::printf("%u steps cached, %u to run\n", response.steps_cached(),
                  response.steps_to_run());
    }
    return absl::OkStatus();
  }
  std::printf("%s\n", response.campaign_id().c_str());
  if (!o.quiet) {
    std::fprintf(stderr, "submitted '%s': %u steps, %u cached, %u to run\n",
                 s.spec.name.c_str(), response.steps_total(), response.steps_cached(),
                 response.steps_to_run());
  }
  return absl::OkStatus();
}

std::string Progress(const v1::Step& s) {
  if (!s.has_progress() || s.progress().total() == 0) return "";
  const v1::StepProgress& p = s.progress();
  std::string out = absl::StrCat(p.done(), "/", p.total(), " ", p.unit());
  if (p.done() > 0 && (s.kind() == v1::STEP_KIND_SCORE || p.passed() > 0)) {
    absl::StrAppend(&out, absl::StrFormat(" pass %.1f%%", 100.0 * p.passed() / p.done()));
  }
  return out;
}

void PrintCampaign(const v1::Campaign& c, bool all_steps) {
  std::printf("campaign %s  %s  %s\n", c.id().c_str(), c.name().c_str(),
              CampaignStateName(c.state()).c_str());
  std::string counts;
  for (const auto& [state, n] : c.steps_by_state()) {
    absl::StrAppend(&counts, counts.empty() ? "" : ", ", n, " ", state);
  }
  std::printf("steps: %s\n", counts.c_str());
  if (c.steps_size() == 0) return;
  std::printf("%-10s %-10s %-8s %-24s %s\n", "STATE", "KIND", "ATTEMPT", "PROGRESS", "STEP");
  for (const v1::Step& s : c.steps()) {
    if (!all_steps && s.state() == v1::STEP_STATE_SUCCEEDED) continue;
    std::printf("%-10s %-10s %-8s %-24s %s\n", StateName(s.state()).c_str(),
                KindName(s.kind()).c_str(),
                absl::StrCat(s.attempts(), "/", s.max_attempts()).c_str(),
                Progress(s).c_str(), s.display_name().c_str());
    if (s.state() == v1::STEP_STATE_LEASED && !s.worker_id().empty()) {
      // Who holds it, and a generating bench's rate and ETA.
      std::printf("           %s%s%s\n", Placement(s.worker_id(), s.progress()).c_str(),
                  s.progress().message().empty() ? "" : ": ", s.progress().message().c_str());
    }
    if (!s.last_error().empty()) std::printf("           error: %s\n", s.last_error().c_str());
    if (!s.gate_reason().empty()) std::printf("           gate: %s\n", s.gate_reason().c_str());
  }
}

// The exit status of `status ID`: 0 while the campaign runs or when it
// succeeded, 1 when it failed or was cancelled (scripts waiting on a
// campaign read the exit code, not the table).
absl::Status CampaignOutcome(const v1::Campaign& campaign) {
  if (campaign.state() == v1::CAMPAIGN_STATE_FAILED ||
      campaign.state() == v1::CAMPAIGN_STATE_CANCELLED) {
    return absl::AbortedError(absl::StrCat("campaign ", campaign.id(), " ",
                                           CampaignStateName(campaign.state())));
  }
  return absl::OkStatus();
}

absl::Status Status(const GlobalOptions& g, const CampaignOptions& o) {
  COHORT_ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connection::Open(g));
  if (o.campaign_id.empty()) {
    v1::ListCampaignsRequest request;
    request.set_limit(50);
    v1::ListCampaignsResponse response;
    COHORT_RETURN_IF_ERROR(FromGrpc(
        conn->stub().ListCampaigns(conn->Context().get(), request, &response), "list"));
    std::printf("%-28s %-10s %s\n", "CAMPAIGN", "STATE", "NAME");
    for (const v1::Campaign& c : response.campaigns()) {
      std::printf("%-28s %-10s %s\n", c.id().c_str(), CampaignStateName(c.state()).c_str(),
                  c.name().c_str());
    }
    return absl::OkStatus();
  }
  v1::GetCampaignRequest request;
  request.set_campaign_id(o.campaign_id);
  request.set_include_steps(true);
  v1::Campaign campaign;
  COHORT_RETURN_IF_ERROR(FromGrpc(
      conn->stub().GetCampaign(conn->Context().get(), request, &campaign),
      "campaign " + o.campaign_id));
  PrintCampaign(campaign, o.all_steps);
  return CampaignOutcome(campaign);
}

absl::Status CancelOrResume(const GlobalOptions& g, const CampaignOptions& o, bool cancel) {
  COHORT_ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connection::Open(g));
  v1::CampaignRef ref;
  ref.set_campaign_id(o.campaign_id);
  v1::Campaign campaign;
  grpc::Status s = cancel ? conn->stub().CancelCampaign(conn->Context().get(), ref, &campaign)
                          : conn->stub().ResumeCampaign(conn->Context().get(), ref, &campaign);
  COHORT_RETURN_IF_ERROR(FromGrpc(s, "campaign " + o.campaign_id));
  PrintCampaign(campaign, false);
  return absl::OkStatus();
}

// Whether `text` names `step`: its key, its display name as status prints
// it, or a key prefix of at least 10 characters ("sha256:1f7" and up).
bool Names(const v1::Step& step, const std::string& text) {
  return step.key() == text || step.display_name() == text ||
         (text.size() >= 10 && absl::StartsWith(step.key(), text));
}

bool IsFullKey(const std::string& text) {
  return text.size() == 71 && absl::StartsWith(text, "sha256:");
}

// The one step `text` names in `campaign`; kNotFound or kInvalidArgument
// (several match) otherwise.
absl::StatusOr<v1::Step> FindStepIn(const v1::Campaign& campaign, const std::string& text) {
  const v1::Step* found = nullptr;
  for (const v1::Step& s : campaign.steps()) {
    if (!Names(s, text)) continue;
    if (found != nullptr && found->key() != s.key()) {
      return absl::InvalidArgumentError(absl::StrCat("'", text, "' names more than one step of ",
                                                     campaign.id(), ": ", found->display_name(),
                                                     " and ", s.display_name()));
    }
    found = &s;
  }
  if (found == nullptr) {
    return absl::NotFoundError(absl::StrCat("no step '", text, "' in campaign ", campaign.id()));
  }
  return *found;
}

absl::StatusOr<v1::Campaign> GetCampaignWithSteps(Connection& conn, const std::string& id) {
  v1::GetCampaignRequest request;
  request.set_campaign_id(id);
  request.set_include_steps(true);
  v1::Campaign campaign;
  COHORT_RETURN_IF_ERROR(FromGrpc(conn.stub().GetCampaign(conn.Context().get(), request,
                                                          &campaign),
                                  "campaign " + id));
  return campaign;
}

// The step `text` names: in `campaign_id` when given, else in the latest
// campaigns (names and prefixes as `status` prints them).
absl::StatusOr<v1::Step> FindStep(Connection& conn, const std::string& campaign_id,
                                  const std::string& text) {
  if (!campaign_id.empty()) {
    COHORT_ASSIGN_OR_RETURN(v1::Campaign campaign, GetCampaignWithSteps(conn, campaign_id));
    return FindStepIn(campaign, text);
  }
  v1::ListCampaignsRequest request;
  request.set_limit(50);
  v1::ListCampaignsResponse response;
  COHORT_RETURN_IF_ERROR(
      FromGrpc(conn.stub().ListCampaigns(conn.Context().get(), request, &response), "list"));
  std::optional<v1::Step> found;
  for (const v1::Campaign& c : response.campaigns()) {
    COHORT_ASSIGN_OR_RETURN(v1::Campaign campaign, GetCampaignWithSteps(conn, c.id()));
    absl::StatusOr<v1::Step> step = FindStepIn(campaign, text);
    if (absl::IsNotFound(step.status())) continue;
    if (!step.ok()) return step.status();
    if (found.has_value() && found->key() != step->key()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "'", text, "' names steps of several campaigns; add --campaign ID"));
    }
    found = *step;
  }
  if (!found.has_value()) {
    return absl::NotFoundError(absl::StrCat("no step '", text, "' in the latest ",
                                            response.campaigns_size(),
                                            " campaigns (give --campaign ID or the full key)"));
  }
  return *found;
}

absl::Status Retry(const GlobalOptions& g, const RetryOptions& o) {
  COHORT_ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connection::Open(g));
  std::string key = o.step_key;
  if (!IsFullKey(key)) {
    COHORT_ASSIGN_OR_RETURN(v1::Step step, FindStep(*conn, o.campaign_id, o.step_key));
    key = step.key();
  }
  v1::RetryStepRequest request;
  request.set_step_key(key);
  v1::Step step;
  COHORT_RETURN_IF_ERROR(FromGrpc(
      conn->stub().RetryStep(conn->Context().get(), request, &step), "step " + o.step_key));
  std::printf("%s %s %s\n", ShortKey(step.key()).c_str(), StateName(step.state()).c_str(),
              step.display_name().c_str());
  return absl::OkStatus();
}

absl::Status Logs(const GlobalOptions& g, const LogsOptions& o) {
  COHORT_ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connection::Open(g));
  std::string key = o.step;
  std::optional<v1::Step> found;
  if (!o.campaign_id.empty()) {
    COHORT_ASSIGN_OR_RETURN(found, FindStep(*conn, o.campaign_id, o.step));
    key = found->key();
  }
  v1::GetStepLogRequest request;
  request.set_step_key(key);
  request.set_max_bytes(o.max_bytes);
  v1::GetStepLogResponse response;
  COHORT_RETURN_IF_ERROR(FromGrpc(
      conn->stub().GetStepLog(conn->Context().get(), request, &response), "log of " + key));
  std::fwrite(response.data().data(), 1, response.data().size(), stdout);
  return absl::OkStatus();
}

std::string Joined(const google::protobuf::RepeatedPtrField<std::string>& items) {
  std::string out;
  for (const std::string& s : items) absl::StrAppend(&out, out.empty() ? "" : ",", s);
  return out.empty() ? "-" : out;
}

// The capabilities a worker registered with, one line each.
void PrintWorkerDetails(const v1::WorkerInfo& w) {
  for (const v1::GpuInfo& gpu : w.gpus()) {
    std::printf("    gpu %u: %s, %.0f GiB\n", gpu.index(), gpu.model().c_str(),
                gpu.memory_bytes() / 1073741824.0);
  }
  for (const v1::ToolInfo& t : w.tools()) {
    std::printf("    tool %s %s\n", t.name().c_str(), t.version().empty() ? "-" : t.version().c_str());
  }
  std::printf("    version %s, memory %.0f GiB, artifacts at %s, %d held\n",
              w.version().empty() ? "-" : w.version().c_str(), w.memory_bytes() / 1073741824.0,
              w.artifact_endpoint().empty() ? "-" : w.artifact_endpoint().c_str(),
              w.held_artifacts_size());
}

absl::Status Workers(const GlobalOptions& g, const WorkersOptions& o) {
  COHORT_ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connection::Open(g));
  v1::ListWorkersResponse response;
  COHORT_RETURN_IF_ERROR(FromGrpc(conn->stub().ListWorkers(
      conn->Context().get(), v1::ListWorkersRequest(), &response), "workers"));
  std::printf("%-20s %-5s %-20s %-5s %-5s %-12s %-10s %-12s %s\n", "WORKER", "STATE", "HOST",
              "GPUS", "SLOTS", "LABELS", "FREE DISK", "HEARTBEAT", "TOOLS");
  int64_t now = absl::ToUnixMicros(absl::Now());
  for (const v1::WorkerInfo& w : response.workers()) {
    std::string tools;
    for (const v1::ToolInfo& t : w.tools()) {
      absl::StrAppend(&tools, tools.empty() ? "" : ",", t.name());
    }
    std::printf("%-20s %-5s %-20s %-5d %-5u %-12s %-10s %-12s %s\n", w.id().c_str(),
                w.state().empty() ? "-" : w.state().c_str(), w.hostname().c_str(),
                w.gpus_size(), w.max_concurrent_steps(),
                Joined(w.labels()).c_str(),
                absl::StrFormat("%.0fG", w.free_disk_bytes() / 1e9).c_str(),
                absl::StrFormat("%.0fs ago", (now - w.last_heartbeat_us()) / 1e6).c_str(),
                tools.c_str());
    if (o.long_format) PrintWorkerDetails(w);
  }
  return absl::OkStatus();
}

std::string HumanBytes(uint64_t bytes) {
  if (bytes < 10 * 1024) return absl::StrCat(bytes, "B");
  if (bytes < 10ull << 20) return absl::StrFormat("%.1fK", bytes / 1024.0);
  if (bytes < 10ull << 30) return absl::StrFormat("%.1fM", bytes / 1048576.0);
  return absl::StrFormat("%.1fG", bytes / 1073741824.0);
}

std::string Where(const v1::Artifact& a) {
  std::string where;
  for (const v1::ArtifactLocation& l : a.locations()) {
    std::string one = l.has_shared_path() ? l.shared_path() : "worker:" + l.worker_id();
    if (!l.has_shared_path() && !l.endpoint().empty()) absl::StrAppend(&one, "@", l.endpoint());
    absl::StrAppend(&where, where.empty() ? "" : " ", one);
  }
  return where.empty() ? "-" : where;
}

absl::Status Artifacts(const GlobalOptions& g, const ArtifactsOptions& o) {
  COHORT_ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connection::Open(g));
  v1::ListArtifactsRequest request;
  request.set_campaign_id(o.campaign_id);
  if (!o.kind.empty()) {
    v1::ArtifactKind kind;
    if (!v1::ArtifactKind_Parse("ARTIFACT_KIND_" + absl::AsciiStrToUpper(o.kind), &kind)) {
      return absl::InvalidArgumentError("--kind: unknown artifact kind '" + o.kind + "'");
    }
    request.set_kind(kind);
  }
  v1::ListArtifactsResponse response;
  COHORT_RETURN_IF_ERROR(FromGrpc(
      conn->stub().ListArtifacts(conn->Context().get(), request, &response), "artifacts"));
  // With a campaign, each output is named by the step that produced it.
  std::map<std::string, std::string> producers;  // digest -> step display name
  if (!o.campaign_id.empty()) {
    v1::GetCampaignRequest get;
    get.set_campaign_id(o.campaign_id);
    get.set_include_steps(true);
    v1::Campaign campaign;
    COHORT_RETURN_IF_ERROR(FromGrpc(
        conn->stub().GetCampaign(conn->Context().get(), get, &campaign),
        "campaign " + o.campaign_id));
    std::set<std::string> keys;
    std::map<std::string, std::string> names;
    for (const v1::Step& step : campaign.steps()) {
      keys.insert(step.key());
      names[step.key()] = step.display_name();
    }
    for (const auto& [key, digest] : StepOutputDigests(campaign, keys)) {
      std::string& by = producers[digest];  // steps with equal outputs share it
      absl::StrAppend(&by, by.empty() ? "" : ", ", names[key]);
    }
  }
  std::printf("%-71s %-12s %-8s %-24s %s\n", "DIGEST", "KIND", "SIZE", "PRODUCED BY", "WHERE");
  std::set<std::string> shown;  // one line per artifact, however many steps made it
  for (const v1::Artifact& a : response.artifacts()) {
    if (!shown.insert(a.digest()).second) continue;
    std::string kind = absl::AsciiStrToLower(
        v1::ArtifactKind_Name(a.kind()).substr(std::string("ARTIFACT_KIND_").size()));
    auto found = producers.find(a.digest());
    std::string producer = found != producers.end()       ? found->second
                           : !a.produced_by_step().empty() ? ShortKey(a.produced_by_step())
                                                           : "-";
    std::printf("%-71s %-12s %-8s %-24s %s\n", a.digest().c_str(), kind.c_str(),
                HumanBytes(a.size_bytes()).c_str(), producer.c_str(), Where(a).c_str());
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Submission> SubmitSpecFile(const GlobalOptions& g, const std::string& file,
                                          const SubmitFlags& flags) {
  Submission out;
  COHORT_ASSIGN_OR_RETURN(out.spec, ParseSpecFile(file));
  for (const std::string& warning : out.spec.warnings) {
    std::fprintf(stderr, "cohort: warning: %s\n", warning.c_str());
  }
  // Before hashing (a checkpoint can take minutes): values the model or the
  // contribution data contradict stop here, at their spec position.
  COHORT_RETURN_IF_ERROR(ResolveClassWeightMaps(out.spec));
  COHORT_RETURN_IF_ERROR(CheckSpecAgainstInputs(out.spec));
  COHORT_ASSIGN_OR_RETURN(std::vector<UserArtifact> inputs, ResolveInputs(out.spec));
  COHORT_ASSIGN_OR_RETURN(out.graph, ExpandSpec(out.spec));
  v1::SubmitCampaignRequest request;
  COHORT_ASSIGN_OR_RETURN(*request.mutable_spec(), ToProto(out.spec, out.graph));
  request.set_dry_run(flags.dry_run);
  request.set_rerun(flags.rerun);
  // A fresh key per invocation: a retried RPC returns the same campaign, a
  // new `cohort submit` makes a new one (that reuses every finished step).
  request.set_idempotency_key(flags.idempotency_key.empty()
                                  ? absl::StrCat("cli-", SecureRandomHex(16))
                                  : flags.idempotency_key);
  COHORT_ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connection::Open(g));
  if (!flags.dry_run) COHORT_RETURN_IF_ERROR(Register(*conn, inputs));
  COHORT_RETURN_IF_ERROR(FromGrpc(
      conn->stub().SubmitCampaign(conn->Context().get(), request, &out.response), "submit"));
  return out;
}

int RunSubmit(const GlobalOptions& g, const SubmitOptions& o) { return ExitWith(Submit(g, o)); }
int RunStatus(const GlobalOptions& g, const CampaignOptions& o) { return ExitWith(Status(g, o)); }
int RunCancel(const GlobalOptions& g, const CampaignOptions& o) {
  return ExitWith(CancelOrResume(g, o, true));
}
int RunResume(const GlobalOptions& g, const CampaignOptions& o) {
  return ExitWith(CancelOrResume(g, o, false));
}
int RunRetry(const GlobalOptions& g, const RetryOptions& o) { return ExitWith(Retry(g, o)); }
int RunLogs(const GlobalOptions& g, const LogsOptions& o) { return ExitWith(Logs(g, o)); }
int RunWorkers(const GlobalOptions& g, const WorkersOptions& o) {
  return ExitWith(Workers(g, o));
}
int RunArtifacts(const GlobalOptions& g, const ArtifactsOptions& o) {
  return ExitWith(Artifacts(g, o));
}

}  // namespace cohort::client
