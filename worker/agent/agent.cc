#include "worker/agent/agent.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/atomic_file.h"
#include "common/listen_address.h"
#include "common/random.h"
#include "common/safe_path.h"
#include "common/status_macros.h"
#include "common/tls_inspect.h"
#include "common/utf8.h"
#include "common/version.h"
#include "grpcpp/grpcpp.h"
#include "spdlog/spdlog.h"
#include "worker/agent/artifact_transfer.h"
#include "worker/agent/capabilities.h"
#include "worker/agent/gpu_slots.h"

namespace cohort::worker {
namespace {

namespace fs = std::filesystem;

v1::ArtifactKind KindOfOutput(const std::string& name) {
  if (name == "drop_map") return v1::ARTIFACT_KIND_DROP_MAP;
  if (name == "checkpoint") return v1::ARTIFACT_KIND_CHECKPOINT;
  if (name == "gguf") return v1::ARTIFACT_KIND_GGUF;
  if (name == "imatrix") return v1::ARTIFACT_KIND_IMATRIX;
  if (name == "tensor_types") return v1::ARTIFACT_KIND_QUANT_MAP;
  if (name == "completions") return v1::ARTIFACT_KIND_COMPLETIONS;
  return v1::ARTIFACT_KIND_REPORT;
}

// The log's last `bytes`, as valid UTF-8 (a proto string field with tool
// output's stray bytes, or cut mid-character, would not parse).
std::string Tail(const std::string& path, size_t bytes) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return "";
  return ValidUtf8(Utf8Suffix(*text, bytes));
}

uint64_t NonNegative(int64_t n) { return n > 0 ? static_cast<uint64_t>(n) : 0; }

}  // namespace

v1::ReportResultsRequest ResultBatch(const v1::Lease& lease, const eval::ProblemResult& row) {
  v1::ReportResultsRequest batch;
  batch.set_lease_id(lease.lease_id());
  batch.set_epoch(lease.epoch());
  v1::ProblemResult* r = batch.add_results();
  r->set_step_key(lease.step().key());
  r->set_problem_id(row.id);
  r->set_sample_index(0);  // one sample per problem (greedy protocol)
  r->set_verdict(row.server_error() ? v1::VERDICT_ERROR
                 : row.passed       ? v1::VERDICT_PASS
                                    : v1::VERDICT_FAIL);
  r->set_prompt_digest(row.prompt_digest);
  r->set_completion(row.completion);
  r->set_reasoning(row.reasoning);
  r->set_completion_chars(NonNegative(row.completion_chars));
  r->set_reasoning_chars(NonNegative(row.reasoning_chars));
  r->set_completion_tokens(NonNegative(row.completion_tokens.value_or(0)));
  r->set_reasoning_tokens(NonNegative(row.reasoning_tokens.value_or(0)));
  r->set_finish_reason(row.finish_reason);
  r->set_extracted_answer(row.extracted);
  r->set_scorer_version(row.scorer_version);
  r->set_details_json(eval::ResultToLine(row));
  return batch;
}

namespace {

// Tells the owner once when the worker has been idle for `limit`
// (--exit-when-idle): holding no step, offered none, and cohortd with no
// unfinished step anywhere.
class IdleWatch {
 public:
  IdleWatch(absl::Duration limit, std::function<void()> on_idle)
      : limit_(limit), on_idle_(std::move(on_idle)) {}
  void Observe(bool idle) {
    if (!idle) {
      since_ = absl::InfiniteFuture();
      return;
    }
    since_ = std::min(since_, absl::Now());
    if (told_ || limit_ <= absl::ZeroDuration() || absl::Now() - since_ < limit_) return;
    told_ = true;
    spdlog::info("idle for {}: stopping (--exit-when-idle)",
                 absl::FormatDuration(absl::Now() - since_));
    if (on_idle_) on_idle_();
  }

 private:
  const absl::Duration limit_;
  const std::function<void()> on_idle_;
  absl::Time since_ = absl::InfiniteFuture();
  bool told_ = false;
};

}  // namespace

absl::Status CheckTlsFlags(const AgentOptions& options) {
  const bool cert = !options.tls_cert_file.empty();
  const bool key = !options.tls_key_file.empty();
  if (cert != key) {
    return absl::InvalidArgumentError(cert ? "--tls-cert needs --tls-key (the certificate's key)"
                                           : "--tls-key needs --tls-cert (its certificate)");
  }
  if (cert && options.tls_ca_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls-cert/--tls-key need --tls-ca (the CA that signed cohortd's certificate): "
        "without it the worker would talk plaintext to cohortd");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ClientCredentials(
    const AgentOptions& options) {
  COHORT_RETURN_IF_ERROR(CheckTlsFlags(options));
  if (options.tls_ca_file.empty()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  absl::StatusOr<std::string> ca = ReadFileToString(options.tls_ca_file);
  if (!ca.ok()) return ca.status();
  ssl.pem_root_certs = *ca;
  if (!options.tls_cert_file.empty()) {
    absl::StatusOr<std::string> cert = ReadFileToString(options.tls_cert_file);
    absl::StatusOr<std::string> key = ReadFileToString(options.tls_key_file);
    if (!cert.ok()) return cert.status();
    if (!key.ok()) return key.status();
    ssl.pem_cert_chain = *cert;
    ssl.pem_private_key = *key;
  }
  return grpc::SslCredentials(ssl);
}

namespace {

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ArtifactServerCredentials(
    const AgentOptions& options) {
  if (options.tls_cert_file.empty()) return grpc::InsecureServerCredentials();
  absl::StatusOr<std::string> cert = ReadFileToString(options.tls_cert_file);
  absl::StatusOr<std::string> key = ReadFileToString(options.tls_key_file);
  if (!cert.ok()) return cert.status();
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({*key, *cert});
  return grpc::SslServerCredentials(ssl);
}

}  // namespace

Agent::Agent(AgentOptions options, StepExecutor& executor, std::unique_ptr<Gateway> gateway)
    : options_(std::move(options)), executor_(executor), gateway_(std::move(gateway)) {}

Agent::~Agent() { Drain(absl::ZeroDuration()); }

v1::WorkerInfo Agent::Info() const {
  v1::WorkerInfo info;
  info.set_id(worker_id_);
  info.set_hostname(HostName());
  for (uint32_t i = 0; i < options_.gpus; ++i) {
    v1::GpuInfo* gpu = info.add_gpus();
    gpu->set_index(i);
    gpu->set_model(options_.gpu_model);
    gpu->set_memory_bytes(options_.gpu_memory_bytes);
  }
  info.set_memory_bytes(TotalMemoryBytes());
  info.set_free_disk_bytes(FreeDiskBytes(options_.state_dir));
  for (const std::string& tool : options_.tools) {
    v1::ToolInfo* t = info.add_tools();
    t->set_name(tool);
    auto version = options_.tool_versions.find(tool);
    if (version != options_.tool_versions.end()) t->set_version(version->second);
  }
  for (const auto& [name, version] : options_.tool_versions) {
    if (std::find(options_.tools.begin(), options_.tools.end(), name) != options_.tools.end()) {
      continue;
    }
    v1::ToolInfo* t = info.add_tools();  // code toolchains (python3, rustc, ...)
    t->set_name(name);
    t->set_version(version);
  }
  for (const std::string& label : options_.labels) info.add_labels(label);
  info.set_max_concurrent_steps(options_.slots);
  info.set_artifact_endpoint(
      absl::StrCat(options_.artifact_advertise_host, ":", artifact_port_));
  info.set_version(COHORT_VERSION);
  if (store_ != nullptr) {
    for (const std::string& digest : store_->Digests()) info.add_held_artifacts(digest);
  }
  return info;
}

absl::Status Agent::Start() {
  COHORT_RETURN_IF_ERROR(CheckTlsFlags(options_));
  COHORT_RETURN_IF_ERROR(OpenState());
  COHORT_RETURN_IF_ERROR(ServeArtifacts());
  COHORT_RETURN_IF_ERROR(ConnectGateway());
  inputs_ = std::make_unique<InputResolver>(
      *store_, shared_inputs_, worker_id_,
      [this](const v1::ArtifactLocation& where, const std::string& digest, uint64_t size) {
        return FetchFromPeer(where, digest, size);
      });
  outbox_ = std::make_unique<Outbox>(*spool_, *gateway_);
  COHORT_RETURN_IF_ERROR(RegisterUntilAccepted());
  lease_thread_ = std::thread([this] { LeaseLoop(); });
  heartbeat_thread_ = std::thread([this] { HeartbeatLoop(); });
  outbox_->Start();
  return absl::OkStatus();
}

absl::Status Agent::OpenState() {
  std::error_code ec;
  fs::create_directories(fs::path(options_.state_dir) / "logs", ec);
  if (ec) return absl::PermissionDeniedError(absl::StrCat(options_.state_dir, ": ", ec.message()));
  std::string id_file = (fs::path(options_.state_dir) / "worker_id").string();
  worker_id_ = options_.worker_id;
  if (worker_id_.empty()) {
    absl::StatusOr<std::string> saved = ReadFileToString(id_file);
    worker_id_ = saved.ok() ? std::string(absl::StripAsciiWhitespace(*saved))
                            : absl::StrCat("w-", HostName(), "-", SecureRandomHex(3));
  }
  COHORT_RETURN_IF_ERROR(WriteFileAtomically(id_file, worker_id_ + "\n"));
  COHORT_ASSIGN_OR_RETURN(spool_, Spool::Open((fs::path(options_.state_dir) / "spool.db").string()));
  COHORT_ASSIGN_OR_RETURN(store_, ArtifactStore::Open(
                                      (fs::path(options_.state_dir) / "artifacts").string(),
                                      options_.disk_limit_bytes));
  return absl::OkStatus();
}

absl::Status Agent::ServeArtifacts() {
  if (options_.tls_cert_file.empty() && !IsLoopbackListen(options_.artifact_listen)) {
    spdlog::warn("artifact service on {} is plaintext off loopback: peers' tokens and "
                 "artifacts cross the network in the clear (give --tls-cert/--tls-key)",
                 options_.artifact_listen);
  }
  artifact_service_ = std::make_unique<ArtifactServiceImpl>(*store_);
  COHORT_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
                          ArtifactServerCredentials(options_));
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options_.artifact_listen, credentials, &artifact_port_);
  builder.RegisterService(artifact_service_.get());
  builder.SetMaxReceiveMessageSize(options_.artifact_max_request_bytes);
  artifact_server_ = builder.BuildAndStart();
  if (artifact_server_ == nullptr || artifact_port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve artifacts on ", options_.artifact_listen));
  }
  return absl::OkStatus();
}

absl::Status Agent::ConnectGateway() {
  std::unique_ptr<Gateway> made;
  if (gateway_ == nullptr) {
    COHORT_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ChannelCredentials> credentials,
                            ClientCredentials(options_));
    made = NewGrpcGateway(options_.coordinator, options_.token, std::move(credentials),
                          options_.tls_server_name);
  }
  absl::MutexLock lock(&stop_mu_);
  if (made != nullptr) gateway_ = std::move(made);
  if (cancel_start_) gateway_->StopRegistering();
  return absl::OkStatus();
}

absl::Status Agent::RegisterUntilAccepted() {
  // Retried with a growing pause; a cause is logged when it changes, and
  // then once a minute, not once a second.
  absl::Duration pause = absl::Seconds(1);
  std::string last_logged;
  absl::Time logged_at = absl::InfinitePast();
  while (true) {
    absl::Status registered = Register();
    if (registered.ok()) return absl::OkStatus();
    if (registered.code() == absl::StatusCode::kUnauthenticated ||
        registered.code() == absl::StatusCode::kPermissionDenied) {
      return registered;
    }
    std::string cause = registered.ToString();
    if (registered.code() == absl::StatusCode::kUnavailable) {
      // gRPC says "Socket closed" for every TLS refusal: name the cause.
      std::string why = DiagnoseTls();
      if (!why.empty()) cause = "UNAVAILABLE: " + why;
    }
    absl::MutexLock lock(&stop_mu_);
    if (cancel_start_) return absl::CancelledError("stopped before registering");
    if (cause != last_logged || absl::Now() - logged_at >= absl::Minutes(1)) {
      spdlog::warn("register: {}; retrying (every {} at most)", cause,
                   absl::FormatDuration(absl::Seconds(15)));
      last_logged = cause;
      logged_at = absl::Now();
    }
    if (stop_mu_.AwaitWithTimeout(absl::Condition(&cancel_start_), pause)) {
      return absl::CancelledError("stopped before registering");
    }
    pause = std::min(pause * 2, absl::Seconds(15));
  }
}

std::string Agent::DiagnoseTls() const {
  if (options_.tls_ca_file.empty()) return "";
  TlsProbe probe;
  probe.address = options_.coordinator;
  probe.ca_pem = ReadFileToString(options_.tls_ca_file).value_or("");
  probe.ca_file = options_.tls_ca_file;
  if (!options_.tls_cert_file.empty()) {
    probe.cert_pem = ReadFileToString(options_.tls_cert_file).value_or("");
    probe.key_pem = ReadFileToString(options_.tls_key_file).value_or("");
    probe.cert_file = options_.tls_cert_file;
  }
  probe.expected_name = options_.tls_server_name;
  return DiagnoseTlsFailure(probe);
}

void Agent::CancelStart() {
  absl::MutexLock lock(&stop_mu_);
  cancel_start_ = true;
  if (gateway_ != nullptr) gateway_->StopRegistering();
}

absl::Status Agent::Register() {
  v1::RegisterRequest request;
  *request.mutable_worker() = Info();
  v1::RegisterResponse response;
  COHORT_RETURN_IF_ERROR(gateway_->Register(request, &response));
  heartbeat_interval_ = absl::Milliseconds(std::max(200u, response.heartbeat_interval_ms()));
  if (artifact_service_ != nullptr) artifact_service_->SetTransferKey(response.transfer_key());
  // Leases the coordinator thinks we hold but no thread of ours runs (we
  // were restarted): hand them back so they are re-leased at once.
  for (const v1::Lease& lease : response.leases()) {
    if (!steps_.Holds(lease.lease_id())) {
      SpoolFail(lease, absl::UnavailableError("worker restarted; step handed back"), "");
    }
  }
  spdlog::info("registered as {} with {} (artifacts on port {})", worker_id_,
               options_.coordinator, artifact_port_);
  return absl::OkStatus();
}

void Agent::LeaseLoop() {
  // A poll no longer than the idle limit, so an idle worker notices in time.
  const absl::Duration poll_wait =
      options_.exit_when_idle > absl::ZeroDuration()
          ? std::min(options_.poll_wait, options_.exit_when_idle)
          : options_.poll_wait;
  IdleWatch idle(options_.exit_when_idle, options_.on_idle);
  while (steps_.WaitForFreeSlot(options_.slots)) {
    steps_.Reap();
    const uint32_t busy = steps_.Unfinished();
    v1::LeaseRequest request;
    request.set_worker_id(worker_id_);
    request.set_free_slots(options_.slots - busy);
    request.set_free_gpus(steps_.FreeGpus());
    request.set_free_disk_bytes(FreeDiskBytes(options_.state_dir));
    request.set_wait_ms(static_cast<uint32_t>(absl::ToInt64Milliseconds(poll_wait)));
    v1::LeaseResponse response;
    if (absl::Status leased = gateway_->Lease(request, poll_wait + absl::Seconds(5), &response);
        !leased.ok()) {
      spdlog::warn("lease: {}", leased.ToString());
      steps_.PauseUnlessDraining(absl::Seconds(1));
      continue;
    }
    idle.Observe(busy == 0 && response.leases().empty() && response.unfinished_steps() == 0);
    for (const v1::Lease& lease : response.leases()) {
      RunningSteps::Step* step =
          steps_.Launch(lease, [this](RunningSteps::Step* s) { RunStep(s); });
      if (step == nullptr) continue;
      spdlog::info("leased {} ({}) epoch {}{}", lease.step().display_name(),
                   lease.step().key().substr(0, 19), lease.epoch(),
                   step->gpus.empty()
                       ? ""
                       : " on gpu " + VisibleDevices(step->gpus, options_.cuda_devices));
    }
  }
}

void Agent::HeartbeatLoop() {
  while (true) {
    {
      absl::MutexLock lock(&stop_mu_);
      if (stop_mu_.AwaitWithTimeout(absl::Condition(&stopping_), heartbeat_interval_)) return;
    }
    Heartbeat();
  }
}

void Agent::Heartbeat() {
  v1::HeartbeatRequest request;
  request.set_worker_id(worker_id_);
  request.set_free_disk_bytes(FreeDiskBytes(options_.state_dir));
  steps_.AddStatuses(&request);
  v1::HeartbeatResponse response;
  if (absl::Status sent = gateway_->Heartbeat(request, &response); !sent.ok()) {
    spdlog::warn("heartbeat: {}", sent.ToString());
    if (!absl::IsNotFound(sent)) return;
    // cohortd forgot this worker (its database was replaced): register again.
    if (absl::Status registered = Register(); !registered.ok()) {
      spdlog::warn("registering again: {}", registered.ToString());
    }
    return;
  }
  steps_.Revoke({response.revoked_lease_ids().begin(), response.revoked_lease_ids().end()});
}

absl::StatusOr<StoredArtifact> Agent::FetchFromPeer(const v1::ArtifactLocation& where,
                                                    const std::string& digest,
                                                    uint64_t size_bytes) {
  // Read for every fetch: a renewed certificate is used without a restart.
  COHORT_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ChannelCredentials> credentials,
                          ClientCredentials(options_));
  return cohort::worker::FetchFromPeer(*store_, where.endpoint(), where.capability(), digest,
                                       size_bytes, std::move(credentials));
}

void Agent::RunStep(RunningSteps::Step* step) {
  // An earlier attempt of this step may still be winding down here (its
  // lease superseded while this worker was stopped or cut off): it ends first.
  steps_.StopEarlierAttempts(step);
  const v1::Lease& lease = step->lease;
  if (step->cancel.load()) {
    spdlog::info("step {} stopped before it began", lease.step().display_name());
    steps_.Finish(step);
    return;
  }
  // The key names this step's log, scratch and work folders: anything but a
  // digest is refused before a path is built from it.
  if (!IsDigest(lease.step().key())) {
    SpoolFail(lease,
              absl::InvalidArgumentError(absl::StrCat(
                  "step key '", absl::CHexEscape(lease.step().key().substr(0, 80)),
                  "' is not sha256:<64 lowercase hex>")),
              "");
    steps_.Finish(step);
    return;
  }
  const std::string hex = lease.step().key().substr(7, 16);
  const std::string log_path = (fs::path(options_.state_dir) / "logs" /
                                absl::StrCat(hex, "-", lease.epoch(), ".log")).string();
  // Kept across attempts on this worker (a generate step's journal lives
  // there); removed once the step succeeded.
  const std::string work_dir = (fs::path(options_.state_dir) / "work" / hex).string();
  absl::StatusOr<ResolvedInputs> inputs = inputs_->Resolve(lease);
  absl::StatusOr<std::string> scratch = store_->NewScratchDir(hex);
  absl::StatusOr<StepResult> result =
      !inputs.ok()    ? inputs.status()
      : !scratch.ok() ? scratch.status()
                      : Execute(step, *inputs, *scratch, work_dir, log_path);
  if (inputs.ok()) inputs_->Release(*inputs);
  if (step->cancel.load()) {
    spdlog::info("step {} stopped (lease revoked or worker draining)", hex);
  } else if (result.ok()) {
    SpoolComplete(lease, *result, log_path);
    std::error_code rm;
    fs::remove_all(work_dir, rm);
  } else {
    // An input nobody could serve is not the step's failure: say so, and
    // the coordinator gives the attempt back and offers the step later.
    bool input_unavailable =
        !inputs.ok() && (absl::IsUnavailable(inputs.status()) ||
                         absl::IsDeadlineExceeded(inputs.status()));
    SpoolFail(lease, result.status(), log_path, input_unavailable);
  }
  std::error_code ec;
  if (scratch.ok()) fs::remove_all(*scratch, ec);
  store_->CollectGarbage();
  steps_.Finish(step);
}

absl::StatusOr<StepResult> Agent::Execute(RunningSteps::Step* step, const ResolvedInputs& inputs,
                                          const std::string& scratch,
                                          const std::string& work_dir,
                                          const std::string& log_path) {
  const v1::Lease& lease = step->lease;
  StepTask task;
  task.kind = static_cast<TaskKind>(lease.step().kind());
  task.key = lease.step().key();
  task.params_json = lease.step().params_json();
  task.inputs = inputs.paths;
  task.output_root = scratch;
  task.work_dir = work_dir;
  std::error_code mk;
  fs::create_directories(task.work_dir, mk);
  task.log_path = log_path;
  if (options_.gpus > 0) task.visible_gpus = VisibleDevices(step->gpus, options_.cuda_devices);
  task.should_stop = [step] { return step->cancel.load(); };
  task.on_progress = [this, step](const TaskProgress& p) { steps_.SetProgress(step, p); };
  task.on_result = [this, step](const eval::ProblemResult& row) {
    outbox_->Append(SpoolKind::kResults, step->lease,
                    ResultBatch(step->lease, row).SerializeAsString(), "a batch of results");
  };
  return executor_.Execute(task);
}

void Agent::SpoolComplete(const v1::Lease& lease, const StepResult& result,
                          const std::string& log_path) {
  v1::CompleteStepRequest request;
  request.set_lease_id(lease.lease_id());
  request.set_epoch(lease.epoch());
  request.set_gate_failed(result.gate_failed);
  request.set_gate_reason(result.gate_reason);
  request.set_facts_json(ValidUtf8(result.facts_json));
  std::string produced;
  for (const auto& [name, folder] : result.outputs) {
    absl::StatusOr<StoredArtifact> stored = store_->Adopt(folder);
    if (!stored.ok()) {
      SpoolFail(lease, stored.status(), log_path);
      return;
    }
    v1::StepOutput* out = request.add_outputs();
    out->set_name(name);
    v1::Artifact* artifact = out->mutable_artifact();
    artifact->set_digest(stored->digest);
    artifact->set_kind(KindOfOutput(name));
    artifact->set_size_bytes(stored->size_bytes);
    artifact->set_is_folder(true);
    artifact->add_locations()->set_worker_id(worker_id_);
    absl::StrAppend(&produced, "cohort-worker: output ", name, " ", stored->digest, " (",
                    stored->size_bytes, " bytes)\n");
  }
  // The log ends with what the step produced, so its tail (what cohortd
  // keeps and `cohort logs` shows) names each output's digest.
  if (!log_path.empty()) {
    FILE* log = std::fopen(log_path.c_str(), "a");
    if (log != nullptr) {
      std::fputs(produced.c_str(), log);
      std::fclose(log);
    }
  }
  request.set_log_tail(Tail(log_path, 4000));
  spdlog::info("step {} succeeded", lease.step().display_name());
  outbox_->Append(SpoolKind::kComplete, lease, request.SerializeAsString(), "the completion");
}

void Agent::SpoolFail(const v1::Lease& lease, const absl::Status& status,
                      const std::string& log_path, bool input_unavailable) {
  v1::FailStepRequest request;
  request.set_input_unavailable(input_unavailable);
  request.set_lease_id(lease.lease_id());
  request.set_epoch(lease.epoch());
  request.set_status_code(static_cast<int>(status.code()));
  // Bounded well under cohortd's 64 KiB limit on failure messages.
  request.set_message(Utf8Prefix(ValidUtf8(status.message()), 16 << 10));
  if (!log_path.empty()) request.set_log_tail(Tail(log_path, 4000));
  spdlog::warn("step {} failed: {}", lease.step().display_name(), status.ToString());
  outbox_->Append(SpoolKind::kFail, lease, request.SerializeAsString(), "the failure");
}

void Agent::Drain(absl::Duration grace) {
  {
    absl::MutexLock lock(&stop_mu_);
    if (drained_) return;
    drained_ = true;
  }
  steps_.BeginDrain();
  // A lease poll in flight ends within its wait (leases it brings run).
  if (lease_thread_.joinable()) lease_thread_.join();
  const absl::Time deadline = absl::Now() + grace;
  steps_.WaitAllFinished(deadline);
  // Cancelled steps stop their tools promptly; their threads are waited for.
  std::vector<v1::Lease> handed_back = steps_.CancelAll();
  steps_.WaitAllFinished(absl::InfiniteFuture());
  steps_.Reap();
  if (outbox_ != nullptr) {
    for (const v1::Lease& lease : handed_back) {
      SpoolFail(lease, absl::UnavailableError("worker draining"), "");
    }
    // Give the shipper until the deadline (at least a moment) to flush.
    outbox_->Flush(std::max(deadline, absl::Now() + absl::Seconds(2)));
  }
  {
    absl::MutexLock lock(&stop_mu_);
    stopping_ = true;
  }
  if (heartbeat_thread_.joinable()) heartbeat_thread_.join();
  if (outbox_ != nullptr) outbox_->Stop();
  if (artifact_server_ != nullptr) {
    artifact_server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  }
}

}  // namespace cohort::worker
