#include "client/cli/rpc.h"

#include <cstdio>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "client/spec/match.h"
#include "common/atomic_file.h"
#include "common/grpc_logging.h"
#include "common/status_macros.h"
#include "common/tls_inspect.h"

namespace cohort::client {

int ExitWith(const absl::Status& status) {
  if (status.ok()) return 0;
  std::fprintf(stderr, "cohort: %s\n", std::string(status.message()).c_str());
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
      return 2;
    default:
      return 1;
  }
}

namespace {

// Said after an UNAVAILABLE error: what the TLS setup was, and what to check
// (a handshake cohortd refused reads as UNAVAILABLE to the client).
std::string tls_hint;
std::optional<TlsProbe> tls_probe;  // set when cohortd is reached over TLS
// The coordinator dialled, for "nothing listens there" messages.
std::string coordinator_address;

// What to add to an UNAVAILABLE error: nothing listening (cohortd down or
// another address) reads differently from a refused TLS handshake.
std::string UnavailableHint(const std::string& message) {
  if (absl::StrContains(message, "Connection refused")) {
    return absl::StrCat(" (nothing listens at ", coordinator_address,
                        ": is cohortd running there? `cohort up` starts a local cluster; "
                        "--coordinator, COHORT_COORDINATOR or the config's coordinator names "
                        "another)");
  }
  if (absl::StrContains(message, "Deadline Exceeded") ||
      absl::StrContains(message, "No route to host") ||
      absl::StrContains(message, "Connection timed out")) {
    return absl::StrCat(" (", coordinator_address, " did not answer: a firewall, a wrong "
                        "address, or a network cut)");
  }
  if (tls_probe.has_value()) {
    // gRPC says "Socket closed" for every TLS refusal: name the cause.
    std::string why = DiagnoseTlsFailure(*tls_probe);
    if (!why.empty()) return " (" + why + ")";
  }
  return tls_hint;
}

absl::StatusOr<std::string> ReadTlsFile(const std::string& path, const std::string& what) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("TLS ", what, " ", path, ": ", text.status().message()));
  }
  if (!absl::StrContains(*text, "-----BEGIN ")) {
    return absl::InvalidArgumentError(absl::StrCat("TLS ", what, " ", path, ": not PEM"));
  }
  return text;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(const GlobalOptions& g) {
  COHORT_ASSIGN_OR_RETURN(ClientConfig config, ResolveConfig(g.config));
  if (config.token.empty()) {
    return absl::InvalidArgumentError(
        "no token: pass --token, set COHORT_TOKEN, or put token_file in " +
        DefaultConfigPath() + " (`cohort up` writes one)");
  }
  SilenceGrpcLogsUnlessAsked();
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
  tls_hint = " (if cohortd serves TLS, give its CA with --tls-ca)";
  if (!config.tls_ca.empty() || !config.tls_cert.empty()) {
    grpc::SslCredentialsOptions ssl;
    // No CA: the system's roots verify cohortd.
    if (!config.tls_ca.empty()) {
      COHORT_ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadTlsFile(config.tls_ca, "CA"));
    }
    if (!config.tls_cert.empty()) {
      COHORT_ASSIGN_OR_RETURN(ssl.pem_cert_chain,
                              ReadTlsFile(config.tls_cert, "client certificate"));
      COHORT_ASSIGN_OR_RETURN(ssl.pem_private_key, ReadTlsFile(config.tls_key, "client key"));
      tls_hint = " (TLS with client certificate " + config.tls_cert +
                 ": is it signed by the CA cohortd's --tls-client-ca names, and does --tls-ca "
                 "sign cohortd's certificate?)";
    } else {
      tls_hint = " (TLS without a client certificate: if cohortd requires one "
                 "(--tls-client-ca), give --tls-cert and --tls-key, COHORT_TLS_CERT and "
                 "COHORT_TLS_KEY, or tls_cert and tls_key in the config file)";
    }
    creds = grpc::SslCredentials(ssl);
    TlsProbe probe;
    probe.address = config.coordinator;
    probe.ca_pem = ssl.pem_root_certs;
    probe.ca_file = config.tls_ca;
    probe.cert_pem = ssl.pem_cert_chain;
    probe.key_pem = ssl.pem_private_key;
    probe.cert_file = config.tls_cert;
    probe.expected_name = config.tls_server_name;
    tls_probe = probe;
  }
  coordinator_address = config.coordinator;
  grpc::ChannelArguments args;
  // A 10^5-step campaign's steps come back as ~100 MB (every generate and
  // score step carries its profile): gRPC's 4 MB default refused them, so
  // `cohort status` and `report` failed on the campaigns they exist for.
  args.SetMaxReceiveMessageSize(1 << 30);
  if (!config.tls_server_name.empty()) {
    // Checked against cohortd's certificate instead of the host dialled.
    args.SetSslTargetNameOverride(config.tls_server_name);
    tls_hint += " (does cohortd's certificate name " + config.tls_server_name + "?)";
  }
  auto conn = std::make_unique<Connection>();
  conn->stub_ = v1::Coordinator::NewStub(
      grpc::CreateCustomChannel(config.coordinator, creds, args));
  conn->token_ = config.token;
  conn->timeout_seconds_ = g.timeout_seconds;
  return conn;
}

std::unique_ptr<grpc::ClientContext> Connection::Context(bool deadline) const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->AddMetadata("authorization", "Bearer " + token_);
  if (deadline) {
    context->set_deadline(
        absl::ToChronoTime(absl::Now() + absl::Seconds(timeout_seconds_)));
  }
  return context;
}

absl::Status FromGrpc(const grpc::Status& status, const std::string& what) {
  if (status.ok()) return absl::OkStatus();
  // gRPC and absl share the numeric codes.
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat(what, ": ", status.error_message(),
                                   status.error_code() == grpc::StatusCode::UNAVAILABLE
                                       ? UnavailableHint(status.error_message())
                                       : ""));
}

std::string KindName(v1::StepKind kind) {
  std::string name = v1::StepKind_Name(kind);
  return absl::AsciiStrToLower(name.substr(std::string("STEP_KIND_").size()));
}

v1::StepKind KindFromName(const std::string& name) {
  v1::StepKind kind = v1::STEP_KIND_UNSPECIFIED;
  v1::StepKind_Parse("STEP_KIND_" + absl::AsciiStrToUpper(name), &kind);
  return kind;
}

std::string StateName(v1::StepState state) {
  std::string name = v1::StepState_Name(state);
  return absl::AsciiStrToLower(name.substr(std::string("STEP_STATE_").size()));
}

std::string CampaignStateName(v1::CampaignState state) {
  std::string name = v1::CampaignState_Name(state);
  return absl::AsciiStrToLower(name.substr(std::string("CAMPAIGN_STATE_").size()));
}

std::string ShortKey(const std::string& key) { return key.substr(0, 7 + 12); }

std::string Placement(const std::string& worker, const v1::StepProgress& progress) {
  std::string out = worker.empty() ? "" : "on " + worker;
  if (progress.gpus_size() > 0) {
    absl::StrAppend(&out, out.empty() ? "" : " ", "gpu ", absl::StrJoin(progress.gpus(), ","));
  }
  return out;
}

const v1::Step* CampaignModel::FindStep(const std::string& key) const {
  auto it = step_index.find(key);
  return it == step_index.end() ? nullptr : &campaign.steps(it->second);
}

absl::StatusOr<CampaignModel> LoadCampaign(Connection& conn, const std::string& id) {
  CampaignModel model;
  v1::GetCampaignRequest request;
  request.set_campaign_id(id);
  request.set_include_steps(true);
  COHORT_RETURN_IF_ERROR(FromGrpc(
      conn.stub().GetCampaign(conn.Context().get(), request, &model.campaign),
      "campaign " + id));
  std::vector<StepView> views;
  for (const v1::Step& s : model.campaign.steps()) {
    model.step_index.emplace(s.key(), static_cast<int>(views.size()));
    StepView v;
    v.key = s.key();
    v.kind = KindName(s.kind());
    v.params_json = s.params_json();
    for (const v1::StepInput& in : s.inputs()) {
      if (!in.digest().empty()) v.digest_inputs.emplace_back(in.name(), in.digest());
    }
    v.depends_on.assign(s.depends_on().begin(), s.depends_on().end());
    v.node_id = s.node_id();
    views.push_back(std::move(v));
  }
  // Campaigns submitted by other tools carry other spec_json: no graph then.
  std::optional<CampaignLabels> labels = LabelCampaign(model.campaign.spec_json(), views);
  if (!labels) return model;
  model.spec = std::move(labels->spec);
  model.graph = std::move(labels->graph);
  model.node_to_key = std::move(labels->node_to_key);
  model.score_steps = std::move(labels->score_steps);
  return model;
}

absl::StatusOr<std::vector<report::Row>> LoadRows(Connection& conn,
                                                  const CampaignModel& model) {
  std::vector<report::Row> rows;
  v1::QueryResultsRequest request;
  request.set_campaign_id(model.campaign.id());
  auto context = conn.Context(false);
  auto reader = conn.stub().QueryResults(context.get(), request);
  v1::ProblemResult r;
  while (reader->Read(&r)) {
    auto it = model.score_steps.find(r.step_key());
    if (it == model.score_steps.end()) continue;  // generate rows, other steps
    report::Row row;
    row.model = it->second.first;
    row.suite = it->second.second;
    row.problem_id = r.problem_id();
    row.sample = r.sample_index();
    row.verdict = static_cast<report::Verdict>(r.verdict());
    row.finish_reason = r.finish_reason();
    row.completion_tokens = r.completion_tokens();
    row.reasoning_tokens = r.reasoning_tokens();
    row.completion_chars = r.completion_chars();
    row.reasoning_chars = r.reasoning_chars();
    row.completion = r.completion();
    row.reasoning = r.reasoning();
    row.extracted_answer = r.extracted_answer();
    row.prompt_digest = r.prompt_digest();
    row.details_json = r.details_json();
    rows.push_back(std::move(row));
  }
  COHORT_RETURN_IF_ERROR(FromGrpc(reader->Finish(), "results of " + model.campaign.id()));
  return rows;
}

std::map<std::string, std::string> StepOutputDigests(const v1::Campaign& campaign,
                                                     const std::set<std::string>& keys) {
  std::map<std::string, std::string> out;
  for (const v1::Step& step : campaign.steps()) {
    if (keys.count(step.key()) == 0 || step.state() != v1::STEP_STATE_SUCCEEDED) continue;
    const std::string wanted = OutputOf(KindName(step.kind()));
    for (const v1::StepOutput& produced : step.outputs()) {
      if (produced.name() == wanted) out[step.key()] = produced.artifact().digest();
    }
  }
  return out;
}

std::map<std::string, std::string> ProducedDigests(const CampaignModel& model,
                                                   const std::set<std::string>& nodes) {
  std::set<std::string> keys;
  for (const std::string& node : nodes) {
    auto it = model.node_to_key.find(node);
    if (it != model.node_to_key.end()) keys.insert(it->second);
  }
  std::map<std::string, std::string> by_key = StepOutputDigests(model.campaign, keys);
  std::map<std::string, std::string> out;
  for (const std::string& node : nodes) {
    auto key = model.node_to_key.find(node);
    if (key == model.node_to_key.end()) continue;
    auto digest = by_key.find(key->second);
    if (digest != by_key.end()) out[node] = digest->second;
  }
  return out;
}

absl::Status Emit(const std::string& path, const std::string& text) {
  if (path.empty()) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return absl::OkStatus();
  }
  return WriteFileAtomically(path, text);
}

}  // namespace cohort::client
