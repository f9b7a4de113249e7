#include "worker/agent/agent.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <cstdio>
#include <unistd.h>

#include <filesystem>
#include <fstream>

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
#include "common/version.h"
#include "grpcpp/grpcpp.h"
#include "spdlog/spdlog.h"
#include "worker/agent/artifact_transfer.h"

namespace cohort::worker {
namespace {

namespace fs = std::filesystem;

// At most `max` bytes of `text`, cut before a UTF-8 continuation byte so the
// proto string stays valid UTF-8.
std::string Utf8Prefix(absl::string_view text, size_t max) {
  if (text.size() <= max) return std::string(text);
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return std::string(text.substr(0, end));
}

uint64_t FreeDisk(const std::string& dir) {
  struct statvfs s;
  if (statvfs(dir.c_str(), &s) != 0) return 0;
  return static_cast<uint64_t>(s.f_bavail) * s.f_frsize;
}

uint64_t TotalMemory() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  uint64_t kb = 0;
  while (in >> key >> kb) {
    if (key == "MemTotal:") return kb * 1024;
    in.ignore(1 << 10, '\n');
  }
  return 0;
}

std::string Hostname() {
  char name[256] = {0};
  gethostname(name, sizeof(name) - 1);
  return name;
}

v1::ArtifactKind KindOfOutput(const std::string& name) {
  if (name == "drop_map") return v1::ARTIFACT_KIND_DROP_MAP;
  if (name == "checkpoint") return v1::ARTIFACT_KIND_CHECKPOINT;
  if (name == "gguf") return v1::ARTIFACT_KIND_GGUF;
  if (name == "imatrix") return v1::ARTIFACT_KIND_IMATRIX;
  if (name == "completions") return v1::ARTIFACT_KIND_COMPLETIONS;
  return v1::ARTIFACT_KIND_REPORT;
}

std::string Tail(const std::string& path, size_t bytes) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return "";
  return text->substr(text->size() > bytes ? text->size() - bytes : 0);
}

// Gives up waiting in small steps so shutdown is prompt.
void SleepUnless(const std::atomic<bool>& stop, absl::Duration d) {
  absl::Time until = absl::Now() + d;
  while (!stop.load() && absl::Now() < until) absl::SleepFor(absl::Milliseconds(50));
}

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

Agent::Agent(AgentOptions options, StepExecutor& executor)
    : options_(std::move(options)), executor_(executor), gpu_slots_(options_.gpus) {}

Agent::~Agent() {
  if (!stopping_.load()) Drain(absl::ZeroDuration());
}

std::unique_ptr<grpc::ClientContext> Agent::Context(absl::Duration timeout) const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->AddMetadata("authorization", "Bearer " + options_.token);
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return context;
}

v1::WorkerInfo Agent::Info() const {
  v1::WorkerInfo info;
  info.set_id(worker_id_);
  info.set_hostname(Hostname());
  for (uint32_t i = 0; i < options_.gpus; ++i) {
    v1::GpuInfo* gpu = info.add_gpus();
    gpu->set_index(i);
    gpu->set_model(options_.gpu_model);
    gpu->set_memory_bytes(options_.gpu_memory_bytes);
  }
  info.set_memory_bytes(TotalMemory());
  info.set_free_disk_bytes(FreeDisk(options_.state_dir));
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
  std::error_code ec;
  fs::create_directories(fs::path(options_.state_dir) / "logs", ec);
  if (ec) return absl::PermissionDeniedError(absl::StrCat(options_.state_dir, ": ", ec.message()));
  std::string id_file = (fs::path(options_.state_dir) / "worker_id").string();
  worker_id_ = options_.worker_id;
  if (worker_id_.empty()) {
    absl::StatusOr<std::string> saved = ReadFileToString(id_file);
    worker_id_ = saved.ok() ? std::string(absl::StripAsciiWhitespace(*saved))
                            : absl::StrCat("w-", Hostname(), "-", SecureRandomHex(3));
  }
  if (absl::Status s = WriteFileAtomically(id_file, worker_id_ + "\n"); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<Spool>> spool =
      Spool::Open((fs::path(options_.state_dir) / "spool.db").string());
  if (!spool.ok()) return spool.status();
  spool_ = std::move(*spool);
  absl::StatusOr<std::unique_ptr<ArtifactStore>> store = ArtifactStore::Open(
      (fs::path(options_.state_dir) / "artifacts").string(), options_.disk_limit_bytes);
  if (!store.ok()) return store.status();
  store_ = std::move(*store);

  if (absl::Status s = CheckTlsFlags(options_); !s.ok()) return s;
  if (options_.tls_cert_file.empty() && !IsLoopbackListen(options_.artifact_listen)) {
    spdlog::warn("artifact service on {} is plaintext off loopback: peers' tokens and "
                 "artifacts cross the network in the clear (give --tls-cert/--tls-key)",
                 options_.artifact_listen);
  }
  artifact_service_ = std::make_unique<ArtifactServiceImpl>(*store_);
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> server_creds =
      ArtifactServerCredentials(options_);
  if (!server_creds.ok()) return server_creds.status();
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> client_creds =
      ClientCredentials(options_);
  if (!client_creds.ok()) return client_creds.status();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options_.artifact_listen, *server_creds, &artifact_port_);
  builder.RegisterService(artifact_service_.get());
  builder.SetMaxReceiveMessageSize(options_.artifact_max_request_bytes);
  artifact_server_ = builder.BuildAndStart();
  if (artifact_server_ == nullptr || artifact_port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve artifacts on ", options_.artifact_listen));
  }
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  if (!options_.tls_server_name.empty()) {
    args.SetSslTargetNameOverride(options_.tls_server_name);
  }
  gateway_ = v1::WorkerGateway::NewStub(
      grpc::CreateCustomChannel(options_.coordinator, *client_creds, args));
  // Retried with a growing pause; a cause is logged when it changes, and
  // then once a minute, not once a second.
  absl::Duration pause = absl::Seconds(1);
  std::string last_logged;
  absl::Time logged_at = absl::InfinitePast();
  while (true) {
    absl::Status registered = Register();
    if (registered.ok()) break;
    if (cancel_start_.load()) return absl::CancelledError("stopped before registering");
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
    if (cause != last_logged || absl::Now() - logged_at >= absl::Minutes(1)) {
      spdlog::warn("register: {}; retrying (every {} at most)", cause,
                   absl::FormatDuration(absl::Seconds(15)));
      last_logged = cause;
      logged_at = absl::Now();
    }
    SleepUnless(cancel_start_, pause);
    pause = std::min(pause * 2, absl::Seconds(15));
    if (cancel_start_.load()) return absl::CancelledError("stopped before registering");
  }
  lease_thread_ = std::thread([this] { LeaseLoop(); });
  heartbeat_thread_ = std::thread([this] { HeartbeatLoop(); });
  ship_thread_ = std::thread([this] { ShipLoop(); });
  return absl::OkStatus();
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
  absl::MutexLock lock(&register_mu_);
  cancel_start_.store(true);
  if (register_context_ != nullptr) register_context_->TryCancel();
}

absl::Status Agent::Register() {
  v1::RegisterRequest request;
  *request.mutable_worker() = Info();
  v1::RegisterResponse response;
  std::unique_ptr<grpc::ClientContext> context = Context(absl::Seconds(10));
  {
    absl::MutexLock lock(&register_mu_);
    if (cancel_start_.load()) return absl::CancelledError("stopping: not registering");
    register_context_ = context.get();
  }
  grpc::Status status = gateway_->Register(context.get(), request, &response);
  {
    absl::MutexLock lock(&register_mu_);
    register_context_ = nullptr;
  }
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        absl::StrCat("registering with ", options_.coordinator, ": ",
                                     status.error_message()));
  }
  heartbeat_interval_ = absl::Milliseconds(std::max(200u, response.heartbeat_interval_ms()));
  if (artifact_service_ != nullptr) artifact_service_->SetTransferKey(response.transfer_key());
  // Leases the coordinator thinks we hold but no thread of ours runs (we
  // were restarted): hand them back so they are re-leased at once.
  for (const v1::Lease& lease : response.leases()) {
    bool ours = false;
    {
      absl::MutexLock lock(&mu_);
      ours = running_.count(lease.lease_id()) != 0;
    }
    if (!ours) {
      SpoolFail(lease, absl::UnavailableError("worker restarted; step handed back"), "");
    }
  }
  spdlog::info("registered as {} with {} (artifacts on port {})", worker_id_,
               options_.coordinator, artifact_port_);
  return absl::OkStatus();
}

void Agent::ReapFinished() {
  std::vector<std::unique_ptr<Running>> finished;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = running_.begin(); it != running_.end();) {
      if (it->second->done.load()) {
        gpu_slots_.Release(it->second->gpus);
        finished.push_back(std::move(it->second));
        it = running_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& r : finished) {
    if (r->thread.joinable()) r->thread.join();
  }
}

void Agent::LeaseLoop() {
  // A poll no longer than the idle limit, so an idle worker notices in time.
  const absl::Duration poll_wait =
      options_.exit_when_idle > absl::ZeroDuration()
          ? std::min(options_.poll_wait, options_.exit_when_idle)
          : options_.poll_wait;
  absl::Time idle_since = absl::InfiniteFuture();
  bool idle_told = false;
  while (!draining_.load()) {
    ReapFinished();
    uint32_t busy_slots = 0, free_gpus = 0;
    {
      absl::MutexLock lock(&mu_);
      busy_slots = static_cast<uint32_t>(running_.size());
      free_gpus = gpu_slots_.free();
    }
    if (busy_slots >= options_.slots) {
      SleepUnless(draining_, absl::Milliseconds(100));
      continue;
    }
    v1::LeaseRequest request;
    request.set_worker_id(worker_id_);
    request.set_free_slots(options_.slots - busy_slots);
    request.set_free_gpus(free_gpus);
    request.set_free_disk_bytes(FreeDisk(options_.state_dir));
    request.set_wait_ms(static_cast<uint32_t>(absl::ToInt64Milliseconds(poll_wait)));
    v1::LeaseResponse response;
    grpc::Status status =
        gateway_->Lease(Context(poll_wait + absl::Seconds(5)).get(), request, &response);
    if (!status.ok()) {
      spdlog::warn("lease: {}", status.error_message());
      SleepUnless(draining_, absl::Seconds(1));
      continue;
    }
    if (busy_slots == 0 && response.leases().empty() && response.unfinished_steps() == 0) {
      idle_since = std::min(idle_since, absl::Now());
      if (!idle_told && options_.exit_when_idle > absl::ZeroDuration() &&
          absl::Now() - idle_since >= options_.exit_when_idle) {
        idle_told = true;
        spdlog::info("idle for {}: stopping (--exit-when-idle)",
                     absl::FormatDuration(absl::Now() - idle_since));
        if (options_.on_idle) options_.on_idle();
      }
    } else {
      idle_since = absl::InfiniteFuture();
    }
    for (const v1::Lease& lease : response.leases()) {
      auto running = std::make_unique<Running>();
      running->lease = lease;
      Running* raw = running.get();
      uint32_t wanted = lease.step().requirements().gpus();
      {
        absl::MutexLock lock(&mu_);
        std::optional<std::vector<uint32_t>> gpus = gpu_slots_.Acquire(wanted);
        if (gpus.has_value()) {
          raw->gpus = std::move(*gpus);
        } else {
          // cohortd granted more than this worker said was free: run it
          // without a card of its own rather than on another step's.
          spdlog::warn("{} asks for {} GPU(s), {} free: it runs with none",
                       lease.step().display_name(), wanted, gpu_slots_.free());
        }
        running_[lease.lease_id()] = std::move(running);
      }
      spdlog::info("leased {} ({}) epoch {}{}", lease.step().display_name(),
                   lease.step().key().substr(0, 19), lease.epoch(),
                   raw->gpus.empty() ? "" : " on gpu " + VisibleDevices(raw->gpus, options_.cuda_devices));
      raw->thread = std::thread([this, raw] { RunStep(raw); });
    }
  }
}

void Agent::HeartbeatLoop() {
  while (!stopping_.load()) {
    SleepUnless(stopping_, heartbeat_interval_);
    if (stopping_.load()) break;
    v1::HeartbeatRequest request;
    request.set_worker_id(worker_id_);
    request.set_free_disk_bytes(FreeDisk(options_.state_dir));
    {
      absl::MutexLock lock(&mu_);
      for (const auto& [id, r] : running_) {
        if (r->done.load()) continue;
        v1::LeaseStatus* lease = request.add_leases();
        lease->set_lease_id(id);
        lease->set_epoch(r->lease.epoch());
        lease->mutable_progress()->set_done(r->progress.done);
        lease->mutable_progress()->set_total(r->progress.total);
        lease->mutable_progress()->set_passed(r->progress.passed);
        lease->mutable_progress()->set_unit(r->progress.unit);
        // Bounded: cohortd refuses a heartbeat carrying longer texts.
        lease->mutable_progress()->set_message(Utf8Prefix(r->progress.message, 1024));
        for (uint32_t gpu : r->gpus) lease->mutable_progress()->add_gpus(gpu);
      }
    }
    v1::HeartbeatResponse response;
    grpc::Status status =
        gateway_->Heartbeat(Context(absl::Seconds(5)).get(), request, &response);
    if (!status.ok()) {
      spdlog::warn("heartbeat: {}", status.error_message());
      if (status.error_code() == grpc::StatusCode::NOT_FOUND) (void)Register();
      continue;
    }
    absl::MutexLock lock(&mu_);
    for (const std::string& id : response.revoked_lease_ids()) {
      auto it = running_.find(id);
      if (it == running_.end()) continue;
      spdlog::warn("lease {} revoked; stopping its step", id);
      it->second->cancel.store(true);
    }
  }
}

absl::Status CheckLeaseNames(const v1::Lease& lease) {
  for (const v1::StepInput& input : lease.step().inputs()) {
    COHORT_RETURN_IF_ERROR(CheckPlainName(input.name(), "input name"));
  }
  for (const v1::Artifact& artifact : lease.inputs()) {
    for (const v1::ArtifactLocation& where : artifact.locations()) {
      if (where.has_shared_path()) {
        COHORT_RETURN_IF_ERROR(CheckAbsolutePath(where.shared_path(), "shared_path"));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, std::string>> Agent::ResolveInputs(
    const v1::Lease& lease) {
  COHORT_RETURN_IF_ERROR(CheckLeaseNames(lease));
  std::map<std::string, std::string> paths;
  for (const v1::StepInput& input : lease.step().inputs()) {
    const std::string& digest = input.digest();
    if (std::optional<StoredArtifact> local = store_->Find(digest)) {
      store_->Pin(digest);
      paths[input.name()] = local->path;
      continue;
    }
    const v1::Artifact* artifact = nullptr;
    for (const v1::Artifact& a : lease.inputs()) {
      if (a.digest() == digest) artifact = &a;
    }
    absl::Status last = absl::UnavailableError(
        absl::StrCat("input ", input.name(), " (", digest, ") has no reachable location"));
    for (int i = 0; artifact != nullptr && i < artifact->locations_size(); ++i) {
      const v1::ArtifactLocation& where = artifact->locations(i);
      if (where.has_shared_path()) {
        // Anyone with a client token can register any digest at any path:
        // only a path under --shared-root with the registered bytes is used.
        absl::Status verified =
            shared_inputs_.Verify(where.shared_path(), digest, artifact->size_bytes());
        if (verified.ok()) {
          paths[input.name()] = where.shared_path();
          break;
        }
        spdlog::warn("input {}: {}", input.name(), std::string(verified.message()));
        last = absl::FailedPreconditionError(
            absl::StrCat("input ", input.name(), ": ", verified.message()));
        continue;
      }
      if (where.has_worker_id() && !where.endpoint().empty() &&
          where.worker_id() != worker_id_) {
        absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> creds =
            ClientCredentials(options_);
        if (!creds.ok()) return creds.status();
        absl::StatusOr<StoredArtifact> fetched =
            FetchFromPeer(*store_, where.endpoint(), where.capability(), digest,
                          artifact->size_bytes(), *creds);
        if (fetched.ok()) {
          spdlog::info("fetched {} ({} bytes) from {}", digest.substr(0, 19),
                       fetched->size_bytes, where.worker_id());
          store_->Pin(digest);
          paths[input.name()] = fetched->path;
          break;
        }
        // Whatever went wrong between us and that peer (a reset stream
        // reads as CANCELLED with no message, a hostile or broken manifest
        // as INVALID_ARGUMENT, a corrupt copy as DATA_LOSS) says nothing
        // about the step: UNAVAILABLE, so it is handed back and offered
        // again (a bounded number of times), with the real code kept.
        last = absl::UnavailableError(absl::StrCat(
            "input ", input.name(), " from worker ", where.worker_id(), ": ",
            absl::StatusCodeToString(fetched.status().code()), ": ",
            fetched.status().message()));
      }
    }
    if (paths.count(input.name()) == 0) return last;
  }
  return paths;
}

void Agent::WaitForEarlierAttempts(Running* running) {
  const std::string& key = running->lease.step().key();
  while (!stopping_.load()) {
    bool earlier = false;
    {
      absl::MutexLock lock(&mu_);
      for (auto& [id, other] : running_) {
        // Only earlier epochs: two attempts never wait for each other.
        if (other.get() == running || other->done.load() ||
            other->lease.step().key() != key ||
            other->lease.epoch() >= running->lease.epoch()) {
          continue;
        }
        other->cancel.store(true);
        earlier = true;
      }
    }
    if (!earlier) return;
    SleepUnless(stopping_, absl::Milliseconds(50));
  }
}

void Agent::RunStep(Running* running) {
  // An earlier attempt of this step may still be winding down here (its
  // lease superseded while this worker was stopped or cut off). Both would
  // use the step's work folder, which is kept across attempts so generation
  // resumes from its journal, and the earlier one's clean-up would delete
  // the later one's files: stop it and let it end first.
  WaitForEarlierAttempts(running);
  const v1::Lease& lease = running->lease;
  // The key names this step's log, scratch and work folders: anything but a
  // digest is refused before a path is built from it.
  if (!IsDigest(lease.step().key())) {
    SpoolFail(lease,
              absl::InvalidArgumentError(absl::StrCat(
                  "step key '", absl::CHexEscape(lease.step().key().substr(0, 80)),
                  "' is not sha256:<64 lowercase hex>")),
              "");
    running->done.store(true);
    return;
  }
  std::string hex = lease.step().key().size() > 7 ? lease.step().key().substr(7, 16) : "step";
  std::string log_path = (fs::path(options_.state_dir) / "logs" /
                          absl::StrCat(hex, "-", lease.epoch(), ".log")).string();
  absl::StatusOr<std::map<std::string, std::string>> inputs = ResolveInputs(lease);
  absl::StatusOr<std::string> scratch = store_->NewScratchDir(hex);
  absl::StatusOr<StepResult> result;
  if (!inputs.ok()) {
    result = inputs.status();
  } else if (!scratch.ok()) {
    result = scratch.status();
  } else {
    StepTask task;
    task.kind = static_cast<TaskKind>(lease.step().kind());
    task.key = lease.step().key();
    task.params_json = lease.step().params_json();
    task.inputs = *inputs;
    task.output_root = *scratch;
    task.work_dir = (fs::path(options_.state_dir) / "work" / hex).string();
    std::error_code mk;
    fs::create_directories(task.work_dir, mk);
    task.log_path = log_path;
    if (options_.gpus > 0) {
      task.visible_gpus = VisibleDevices(running->gpus, options_.cuda_devices);
    }
    task.should_stop = [running] { return running->cancel.load(); };
    task.on_progress = [this, running](const TaskProgress& p) {
      absl::MutexLock lock(&mu_);
      running->progress = p;
    };
    task.on_result = [this, running](const TaskResultRow& row) {
      v1::ReportResultsRequest batch;
      batch.set_lease_id(running->lease.lease_id());
      batch.set_epoch(running->lease.epoch());
      v1::ProblemResult* r = batch.add_results();
      r->set_step_key(running->lease.step().key());
      r->set_problem_id(row.problem_id);
      r->set_sample_index(row.sample_index);
      r->set_verdict(static_cast<v1::Verdict>(row.verdict));
      r->set_prompt_digest(row.prompt_digest);
      r->set_completion(row.completion);
      r->set_reasoning(row.reasoning);
      r->set_completion_chars(row.completion_chars);
      r->set_reasoning_chars(row.reasoning_chars);
      r->set_completion_tokens(row.completion_tokens);
      r->set_reasoning_tokens(row.reasoning_tokens);
      r->set_finish_reason(row.finish_reason);
      r->set_extracted_answer(row.extracted_answer);
      r->set_scorer_version(row.scorer_version);
      r->set_details_json(row.json);
      AppendToSpool(SpoolKind::kResults, running->lease, batch.SerializeAsString(),
                    "a batch of results");
    };
    result = executor_.Execute(task);
  }
  if (inputs.ok()) {
    for (const auto& input : lease.step().inputs()) store_->Unpin(input.digest());
  }
  if (running->cancel.load()) {
    spdlog::info("step {} stopped (lease revoked or worker draining)", hex);
  } else if (result.ok()) {
    SpoolComplete(lease, *result, log_path);
    std::error_code rm;
    fs::remove_all(fs::path(options_.state_dir) / "work" / hex, rm);
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
  running->done.store(true);
}

void Agent::SpoolComplete(const v1::Lease& lease, const StepResult& result,
                          const std::string& log_path) {
  v1::CompleteStepRequest request;
  request.set_lease_id(lease.lease_id());
  request.set_epoch(lease.epoch());
  request.set_gate_failed(result.gate_failed);
  request.set_gate_reason(result.gate_reason);
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
  AppendToSpool(SpoolKind::kComplete, lease, request.SerializeAsString(), "the completion");
}

void Agent::SpoolFail(const v1::Lease& lease, const absl::Status& status,
                      const std::string& log_path, bool input_unavailable) {
  v1::FailStepRequest request;
  request.set_input_unavailable(input_unavailable);
  request.set_lease_id(lease.lease_id());
  request.set_epoch(lease.epoch());
  request.set_status_code(static_cast<int>(status.code()));
  // Bounded well under cohortd's 64 KiB limit on failure messages.
  request.set_message(Utf8Prefix(status.message(), 16 << 10));
  if (!log_path.empty()) request.set_log_tail(Tail(log_path, 4000));
  spdlog::warn("step {} failed: {}", lease.step().display_name(), status.ToString());
  AppendToSpool(SpoolKind::kFail, lease, request.SerializeAsString(), "the failure");
}

void Agent::AppendToSpool(SpoolKind kind, const v1::Lease& lease, const std::string& payload,
                          const char* what) {
  absl::StatusOr<int64_t> id = spool_->Append(kind, lease.lease_id(), lease.epoch(), payload);
  if (id.ok()) {
    // Safe on disk from here: a kill -9 of this worker loses nothing.
    if (kind != SpoolKind::kResults) {
      spdlog::info("spooled {} of step {}", what, lease.step().display_name());
    }
    return;
  }
  // cohortd never hears of it: the lease expires and the step runs again
  // (results are write-once, so a partial batch cannot double).
  spdlog::error("spool: lost {} of step {} ({}): {}; its lease will expire and the step "
                "will run again", what, lease.step().display_name(), lease.step().key(),
                id.status().ToString());
}

bool Agent::Ship(const SpoolEntry& entry) {
  grpc::Status status;
  if (entry.kind == SpoolKind::kResults) {
    v1::ReportResultsRequest batch;
    batch.ParseFromString(entry.payload);
    batch.set_batch_id(static_cast<uint64_t>(entry.id));
    auto context = Context(absl::Seconds(30));
    auto stream = gateway_->ReportResults(context.get());
    v1::ReportResultsResponse ack;
    bool sent = stream->Write(batch) && stream->Read(&ack);
    stream->WritesDone();
    status = stream->Finish();
    if (status.ok() && !sent) status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "no ack");
  } else if (entry.kind == SpoolKind::kComplete) {
    v1::CompleteStepRequest request;
    request.ParseFromString(entry.payload);
    v1::CompleteStepResponse response;
    status = gateway_->CompleteStep(Context(absl::Seconds(30)).get(), request, &response);
  } else {
    v1::FailStepRequest request;
    request.ParseFromString(entry.payload);
    v1::FailStepResponse response;
    status = gateway_->FailStep(Context(absl::Seconds(30)).get(), request, &response);
  }
  switch (status.error_code()) {
    case grpc::StatusCode::OK:
      return true;
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::NOT_FOUND:
      // The lease was superseded (or the message is unusable): nothing we
      // send for it can ever be accepted.
      spdlog::warn("dropping spooled message for lease {}: {}", entry.lease_id,
                   status.error_message());
      if (absl::Status removed = spool_->RemoveLease(entry.lease_id); !removed.ok()) {
        // Left in the spool, they are offered again and refused again: no harm.
        spdlog::warn("spool: cannot drop the messages of lease {}: {}", entry.lease_id,
                     std::string(removed.message()));
      }
      return true;
    default:
      return false;
  }
}

void Agent::ShipLoop() {
  while (!stopping_.load()) {
    absl::StatusOr<std::vector<SpoolEntry>> pending = spool_->Pending(64);
    if (!pending.ok() || pending->empty()) {
      SleepUnless(stopping_, absl::Milliseconds(100));
      continue;
    }
    bool stalled = false;
    for (const SpoolEntry& entry : *pending) {
      if (!Ship(entry)) {
        stalled = true;
        break;
      }
      if (absl::Status removed = spool_->Remove(entry.id); !removed.ok()) {
        // Shipped but still spooled: it is sent again, which cohortd takes
        // as a duplicate (results are write-once, completions idempotent).
        spdlog::warn("spool: cannot remove a shipped message: {}", std::string(removed.message()));
        stalled = true;
        break;
      }
    }
    if (stalled) SleepUnless(stopping_, absl::Seconds(1));
  }
}

void Agent::Drain(absl::Duration grace) {
  if (stopping_.load()) return;
  draining_.store(true);
  if (lease_thread_.joinable()) lease_thread_.join();
  absl::Time deadline = absl::Now() + grace;
  while (absl::Now() < deadline) {
    ReapFinished();
    bool idle = false;
    {
      absl::MutexLock lock(&mu_);
      idle = running_.empty();
    }
    if (idle) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  std::vector<v1::Lease> handed_back;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [id, r] : running_) {
      if (r->done.load()) continue;
      r->cancel.store(true);
      handed_back.push_back(r->lease);
    }
  }
  // Cancelled steps stop their tools promptly; wait for their threads.
  while (true) {
    ReapFinished();
    bool idle = false;
    {
      absl::MutexLock lock(&mu_);
      idle = running_.empty();
    }
    if (idle) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  for (const v1::Lease& lease : handed_back) {
    if (spool_ != nullptr) SpoolFail(lease, absl::UnavailableError("worker draining"), "");
  }
  // Give the shipper until the deadline (at least a moment) to flush.
  absl::Time flush_until = std::max(deadline, absl::Now() + absl::Seconds(2));
  while (spool_ != nullptr && absl::Now() < flush_until && spool_->Count().value_or(0) > 0 &&
         ship_thread_.joinable()) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  stopping_.store(true);
  if (heartbeat_thread_.joinable()) heartbeat_thread_.join();
  if (ship_thread_.joinable()) ship_thread_.join();
  if (artifact_server_ != nullptr) {
    artifact_server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  }
}

}  // namespace cohort::worker
