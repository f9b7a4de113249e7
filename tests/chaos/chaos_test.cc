// Chaos trials: a real cohortd and two cohort-worker agents on loopback run a
// dropmap -> prune -> convert -> generate -> score campaign (llama.cpp tools
// and llama-server faked), while faults hit at random moments: kill -9 of
// cohortd (restarted on the same port and state), kill -9 of a worker
// (restarted on the same state folder, or not), kill -9 of the fake
// llama-server, a worker cut off from the coordinator (SIGSTOP past its
// lease, then SIGCONT), a network partition (each worker reaches cohortd,
// and its peer reaches its artifact service, through a loopback TCP proxy
// that the trial cuts and heals while every process keeps running), and a
// slow disk (cohortd or a worker moved into a cgroup v1 blkio group that
// throttles the disk holding its state folder). Each trial checks that
//   - the campaign succeeds;
//   - the results equal those of a fault-free reference run: the same
//     (step kind, problem id, sample) set, nothing missing, nothing
//     duplicated, the same completions and verdicts;
//   - every step's output is registered exactly once (ListArtifacts), and
//     each step lists each output once.
//
// Parameters (environment): COHORT_CHAOS_TRIALS (default 3),
// COHORT_CHAOS_SEED (default: time), COHORT_CHAOS_LOG (a file that gets one
// line per trial), COHORT_CHAOS_FAULTS (comma-separated fault names to draw
// from; default all), COHORT_CHAOS_TLS=1 (cohortd serves mutual TLS: the
// workers and the trial's client present certificates, through the same
// proxies). Long series: see docs/RELIABILITY.md.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "cohort/v1/coordinator.grpc.pb.h"
#include "common/atomic_file.h"
#include "common/sha256.h"
#include "common/subprocess.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/chaos/slow_disk.h"
#include "tests/chaos/tcp_proxy.h"
#include "tests/integration/cohortd_process.h"
#include "tests/integration/worker_process.h"

namespace cohort {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::BinDir;
using testing::CohortdProcess;
using testing::FreePort;
using testing::SlowDisk;
using testing::TcpProxy;
using testing::WorkerProcess;
using testing::WorkerSpec;

constexpr int kProblems = 6;
constexpr int kStepAttempts = 5;

int EnvInt(const char* name, int fallback) {
  const char* value = std::getenv(name);
  int out = 0;
  return value != nullptr && absl::SimpleAtoi(value, &out) ? out : fallback;
}

// With COHORT_CHAOS_TLS=1: a CA, cohortd's certificate for 127.0.0.1 and
// 127.0.0.2 and a client certificate (for the workers and the trial's
// client), made once per run with the openssl tool; nullptr otherwise.
struct TlsFiles {
  std::string ca, server_cert, server_key, client_cert, client_key;
  std::string ca_pem = {}, client_cert_pem = {}, client_key_pem = {};  // the trial's channels
};

const TlsFiles* ChaosTls() {
  static const TlsFiles* files = []() -> const TlsFiles* {
    if (EnvInt("COHORT_CHAOS_TLS", 0) == 0) return nullptr;
    static cohort::testing::TempDir* dir = new cohort::testing::TempDir();
    auto run = [&](std::vector<std::string> argv) {
      SubprocessOptions options;
      options.argv = std::move(argv);
      options.working_dir = dir->path();
      absl::StatusOr<SubprocessResult> r = RunSubprocess(options);
      if (!r.ok() || !r->Succeeded()) {
        ADD_FAILURE() << (r.ok() ? r->Describe() : r.status().ToString());
      }
    };
    const std::vector<std::string> ec = {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                         "-nodes"};
    auto req = [&](std::vector<std::string> argv) {
      argv.insert(argv.begin() + 2, ec.begin(), ec.end());
      run(argv);
    };
    req({"openssl", "req", "-x509", "-days", "2", "-subj", "/CN=chaos-ca", "-keyout", "ca.key",
         "-out", "ca.pem"});
    for (const char* name : {"server", "client"}) {
      req({"openssl", "req", "-subj", absl::StrCat("/CN=", name), "-keyout",
           absl::StrCat(name, ".key"), "-out", absl::StrCat(name, ".csr")});
      (void)WriteFileAtomically(dir->Join(absl::StrCat(name, ".ext")),
                                "subjectAltName=IP:127.0.0.1,IP:127.0.0.2\n");
      run({"openssl", "x509", "-req", "-in", absl::StrCat(name, ".csr"), "-CA", "ca.pem",
           "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile",
           absl::StrCat(name, ".ext"), "-out", absl::StrCat(name, ".pem")});
    }
    auto* files = new TlsFiles{dir->Join("ca.pem"), dir->Join("server.pem"),
                               dir->Join("server.key"), dir->Join("client.pem"),
                               dir->Join("client.key")};
    files->ca_pem = ReadFileToString(files->ca).value_or("");
    files->client_cert_pem = ReadFileToString(files->client_cert).value_or("");
    files->client_key_pem = ReadFileToString(files->client_key).value_or("");
    return files;
  }();
  return files;
}

// cohortd on a fixed loopback port, so that workers find it again after a
// kill -9 and restart.
class Coordinator {
 public:
  Coordinator(std::string state_dir, int port)
      : state_dir_(std::move(state_dir)), port_(port) {}
  ~Coordinator() { Kill9(); }

  absl::Status Start() {
    SubprocessOptions options;
    options.argv = {BinDir() + "/cohortd", "--listen", address(), "--state-dir", state_dir_,
                    "--lease-seconds", "4", "--heartbeat-seconds", "1", "--log-level", "warn",
                    "--shared-root", "/"};
    if (const TlsFiles* tls = ChaosTls(); tls != nullptr) {
      options.argv.insert(options.argv.end(), {"--tls-cert", tls->server_cert, "--tls-key",
                                               tls->server_key, "--tls-client-ca", tls->ca});
    }
    options.stderr_path = state_dir_ + "/cohortd.log";
    // The port may linger briefly after a kill; retry the bind.
    for (int attempt = 0; attempt < 50; ++attempt) {
      if (absl::Status s = process_.Start(options); !s.ok()) return s;
      absl::Time deadline = absl::Now() + absl::Seconds(20);
      while (absl::Now() < deadline && !process_.PollExited()) {
        if (Serving()) return absl::OkStatus();
        absl::SleepFor(absl::Milliseconds(20));
      }
      if (process_.running()) return absl::DeadlineExceededError("cohortd did not serve");
      absl::SleepFor(absl::Milliseconds(200));
    }
    return absl::InternalError("cohortd kept exiting at start; see " + state_dir_ +
                               "/cohortd.log");
  }
  void Kill9() {
    if (!process_.running()) return;
    kill(process_.pid(), SIGKILL);
    process_.WaitFor(absl::Seconds(10));
  }
  bool running() { return process_.running() && !process_.PollExited(); }
  pid_t pid() const { return process_.pid(); }
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::shared_ptr<grpc::Channel> Channel() const {
    const TlsFiles* tls = ChaosTls();
    if (tls == nullptr) return grpc::CreateChannel(address(), grpc::InsecureChannelCredentials());
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = tls->ca_pem;
    options.pem_cert_chain = tls->client_cert_pem;
    options.pem_private_key = tls->client_key_pem;
    return grpc::CreateChannel(address(), grpc::SslCredentials(options));
  }
  absl::StatusOr<std::string> CreateToken(const std::string& role) {
    SubprocessOptions options;
    options.argv = {BinDir() + "/cohortd", "--state-dir", state_dir_, "token", "create",
                    "--role", role};
    absl::StatusOr<SubprocessResult> r = RunSubprocess(options);
    if (!r.ok()) return r.status();
    if (!r->Succeeded()) return absl::InternalError(r->Describe());
    return std::string(absl::StripAsciiWhitespace(r->stdout_data));
  }

 private:
  // grpc.health.v1.Health/Check: the reply is field 1 = 1 (SERVING).
  bool Serving() const {
    grpc::GenericStub stub(Channel());
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
    grpc::Slice empty("", 0);
    grpc::ByteBuffer request(&empty, 1), response;
    absl::Mutex mu;
    bool done = false;
    grpc::Status status;
    stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request,
                   &response, [&](grpc::Status s) {
                     absl::MutexLock lock(&mu);
                     status = s;
                     done = true;
                   });
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(&done));
    std::vector<grpc::Slice> slices;
    if (!status.ok() || !response.Dump(&slices).ok()) return false;
    std::string bytes;
    for (const grpc::Slice& s : slices) {
      bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    return bytes == std::string("\x08\x01", 2);
  }

  std::string state_dir_;
  int port_;
  Subprocess process_;
};

// Reads a /proc file; "" when the process is gone (a read of a vanishing
// process fails with ESRCH, which iostreams would turn into an exception).
std::string ReadProc(const std::string& path) {
  return ReadFileToString(path).value_or("");
}

// Pids of live processes whose command line mentions `needle` (our trial
// folder), optionally only those whose argv[0..1] mentions `program`.
std::vector<pid_t> ProcessesMentioning(const std::string& needle, const std::string& program) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    pid_t pid = 0;
    if (!absl::SimpleAtoi(entry.path().filename().string(), &pid) || pid == getpid()) continue;
    std::string cmdline = ReadProc((entry.path() / "cmdline").string());
    if (cmdline.find(needle) == std::string::npos) continue;
    if (!program.empty()) {
      std::size_t first = cmdline.find('\0');
      std::size_t second = first == std::string::npos ? first : cmdline.find('\0', first + 1);
      if (cmdline.substr(0, second).find(program) == std::string::npos) continue;
    }
    out.push_back(pid);
  }
  return out;
}

// One row of the results, as compared between runs.
struct Row {
  std::string completion, finish_reason;
  int verdict = 0;
  bool operator==(const Row& o) const {
    return completion == o.completion && finish_reason == o.finish_reason && verdict == o.verdict;
  }
};
using ResultKey = std::tuple<std::string, std::string, uint32_t>;  // kind, problem, sample

struct Outcome {
  v1::CampaignState state = v1::CAMPAIGN_STATE_UNSPECIFIED;
  std::map<ResultKey, Row> results;
  int duplicate_results = 0;
  int artifacts_registered_twice = 0;
  int outputs_listed_twice = 0;
  int outputs_missing = 0;
  int steps = 0;
  int attempts = 0;
  std::string describe;
};

enum class Fault {
  kKillCohortd,
  kKillWorker,
  kKillLlamaServer,
  kCutOffWorker,
  kPartitionWorker,
  kPartitionPeers,
  kSlowDisk,
};
constexpr int kFaultKinds = 7;

const char* FaultName(Fault f) {
  switch (f) {
    case Fault::kKillCohortd: return "kill-9-cohortd";
    case Fault::kKillWorker: return "kill-9-worker";
    case Fault::kKillLlamaServer: return "kill-9-llama-server";
    case Fault::kCutOffWorker: return "cut-off-worker";
    case Fault::kPartitionWorker: return "partition-worker";
    case Fault::kPartitionPeers: return "partition-peers";
    case Fault::kSlowDisk: return "slow-disk";
  }
  return "?";
}

// The fault kinds a series draws from: COHORT_CHAOS_FAULTS (names, comma-
// separated) or all of them.
absl::StatusOr<std::vector<Fault>> FaultsToDraw() {
  std::vector<Fault> all;
  for (int i = 0; i < kFaultKinds; ++i) all.push_back(static_cast<Fault>(i));
  const char* wanted = std::getenv("COHORT_CHAOS_FAULTS");
  if (wanted == nullptr || *wanted == '\0') return all;
  std::vector<Fault> out;
  for (absl::string_view name : absl::StrSplit(wanted, ',', absl::SkipWhitespace())) {
    name = absl::StripAsciiWhitespace(name);
    auto it = std::find_if(all.begin(), all.end(),
                           [&](Fault f) { return name == FaultName(f); });
    if (it == all.end()) {
      std::vector<std::string> names;
      for (Fault f : all) names.push_back(FaultName(f));
      return absl::InvalidArgumentError(absl::StrCat("COHORT_CHAOS_FAULTS: unknown fault '", name,
                                                     "'; known: ", absl::StrJoin(names, ", ")));
    }
    out.push_back(*it);
  }
  if (out.empty()) return absl::InvalidArgumentError("COHORT_CHAOS_FAULTS names no fault");
  return out;
}

// True when nothing listens on host:port (a bind there succeeds).
bool PortFreeOn(const std::string& host, int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  bool free = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return free;
}

class ChaosTrial {
 public:
  explicit ChaosTrial(const std::string& source_dir) : source_dir_(source_dir) {}

  ~ChaosTrial() {
    for (auto& w : workers_) {
      if (w != nullptr) {
        Resume(*w);
        w->Kill9();
      }
    }
    if (coordinator_ != nullptr) coordinator_->Kill9();
    // Orphaned tools of killed workers (bench, llama-server) of this trial.
    // Never with an empty folder name (mkdtemp failed): that would match
    // every process on the machine.
    if (!dir_.path().empty()) {
      for (pid_t pid : ProcessesMentioning(dir_.path(), "")) kill(pid, SIGKILL);
    }
  }

  absl::Status SetUp() {
    fs::create_directories(dir_.Join("cohortd"));
    coordinator_ = std::make_unique<Coordinator>(dir_.Join("cohortd"), FreePort());
    if (absl::Status s = coordinator_->Start(); !s.ok()) return s;
    absl::StatusOr<std::string> client = coordinator_->CreateToken("client");
    absl::StatusOr<std::string> worker = coordinator_->CreateToken("worker");
    if (!client.ok()) return client.status();
    if (!worker.ok()) return worker.status();
    client_token_ = *client;
    if (absl::Status s = WriteFileAtomically(dir_.Join("worker.token"), *worker); !s.ok()) {
      return s;
    }
    std::string bin = BinDir() + "/cohort-worker";
    for (std::vector<std::string> argv :
         {std::vector<std::string>{bin, "synth-model", "--layout", "gemma4", "--output-dir",
                                   dir_.Join("base"), "--layers", "2", "--experts", "8"},
          std::vector<std::string>{bin, "synth-contrib", "--layers", "2", "--experts", "8",
                                   "--output", dir_.Join("contrib.json")}}) {
      SubprocessOptions options;
      options.argv = argv;
      absl::StatusOr<SubprocessResult> r = RunSubprocess(options);
      if (!r.ok()) return r.status();
      if (!r->Succeeded()) return absl::InternalError(r->Describe());
    }
    for (int i = 0; i < 2; ++i) {
      if (absl::Status s = StartLinks(); !s.ok()) return s;
    }
    for (int i = 0; i < 2; ++i) workers_.push_back(NewWorker(i));
    for (auto& w : workers_) {
      if (absl::Status s = w->Start(); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  // Submits the campaign, applies `faults` at their offsets from the submit,
  // waits for the end and collects the outcome.
  Outcome Run(std::vector<std::pair<absl::Duration, Fault>> faults, std::mt19937_64& rng,
              std::string* log) {
    Outcome out;
    absl::StatusOr<std::string> id = Submit();
    if (!id.ok()) {
      out.describe = id.status().ToString();
      return out;
    }
    campaign_id_ = *id;
    absl::Time submitted = absl::Now();
    for (const auto& [at, fault] : faults) {
      absl::Time when = submitted + at;
      while (absl::Now() < when) absl::SleepFor(absl::Milliseconds(10));
      absl::StrAppend(log, " ", FaultName(fault), "@", absl::FormatDuration(at));
      Apply(fault, rng, log);
    }
    // Every worker and the coordinator come back for the end of the trial.
    if (!coordinator_->running()) {
      if (absl::Status s = coordinator_->Start(); !s.ok()) out.describe = s.ToString();
    }
    for (std::size_t i = 0; i < workers_.size(); ++i) {
      Resume(*workers_[i]);
      if (!WorkerAlive(i)) {
        workers_[i] = NewWorker(i);
        workers_[i]->Start().IgnoreError();
      }
    }
    absl::Time deadline = absl::Now() + absl::Seconds(150);
    v1::Campaign campaign;
    while (absl::Now() < deadline) {
      campaign = Get(*id);
      if (campaign.state() != v1::CAMPAIGN_STATE_RUNNING &&
          campaign.state() != v1::CAMPAIGN_STATE_UNSPECIFIED) {
        break;
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    out.state = campaign.state();
    out.describe = campaign.DebugString();
    // Evidence that the workers' traffic went through the cuttable links.
    int to_cohortd = 0, to_peers = 0;
    for (auto& link : cohortd_links_) to_cohortd += link->connections_accepted();
    for (auto& link : artifact_links_) to_peers += link->connections_accepted();
    absl::StrAppend(log, " [relayed connections: to cohortd ", to_cohortd, ", to peers ",
                    to_peers, "]");
    Collect(*id, campaign, &out);
    return out;
  }

  std::string path() const { return dir_.path(); }

 private:
  // The links of one more worker: its way to cohortd, and its peers' way to
  // its artifact service. The worker serves artifacts on 127.0.0.1:Q and
  // advertises 127.0.0.2:Q, where its link listens; Q stays the same across
  // restarts, so the link outlives the worker.
  absl::Status StartLinks() {
    absl::StatusOr<std::unique_ptr<TcpProxy>> to_cohortd =
        TcpProxy::Start("127.0.0.1", 0, "127.0.0.1", coordinator_->port());
    if (!to_cohortd.ok()) return to_cohortd.status();
    for (int attempt = 0; attempt < 20; ++attempt) {
      absl::StatusOr<std::unique_ptr<TcpProxy>> to_artifacts =
          TcpProxy::Start("127.0.0.2", 0, "127.0.0.1", 0);
      if (!to_artifacts.ok()) return to_artifacts.status();
      int port = (*to_artifacts)->port();
      if (!PortFreeOn("127.0.0.1", port)) continue;
      // Relay to the same port on 127.0.0.1.
      to_artifacts->reset();
      to_artifacts = TcpProxy::Start("127.0.0.2", port, "127.0.0.1", port);
      if (!to_artifacts.ok()) continue;
      cohortd_links_.push_back(std::move(*to_cohortd));
      artifact_links_.push_back(std::move(*to_artifacts));
      return absl::OkStatus();
    }
    return absl::UnavailableError("no port free on both 127.0.0.1 and 127.0.0.2");
  }

  std::unique_ptr<WorkerProcess> NewWorker(int i) {
    WorkerSpec spec;
    spec.id = "w" + std::to_string(i);
    spec.state_dir = dir_.Join(spec.id);
    spec.coordinator = cohortd_links_[i]->address();
    spec.extra_flags = {"--artifact-listen",
                        "127.0.0.1:" + std::to_string(artifact_links_[i]->port()),
                        "--artifact-advertise-host", "127.0.0.2"};
    if (const TlsFiles* tls = ChaosTls(); tls != nullptr) {
      spec.extra_flags.insert(spec.extra_flags.end(),
                              {"--tls-ca", tls->ca, "--tls-cert", tls->client_cert, "--tls-key",
                               tls->client_key});
    }
    spec.token_file = dir_.Join("worker.token");
    spec.slots = 2;
    // Slower tokens stretch the generate step so faults land inside it.
    spec.env = {{"FAKE_LLAMA_TOKEN_LATENCY_MS", "10"}};
    return std::make_unique<WorkerProcess>(spec);
  }

  // WorkerProcess hides its pid; find it by its state folder.
  pid_t WorkerPid(const WorkerProcess& w) {
    std::vector<pid_t> pids = ProcessesMentioning("--state-dir", "cohort-worker");
    for (pid_t pid : pids) {
      std::string cmdline = ReadProc("/proc/" + std::to_string(pid) + "/cmdline");
      if (cmdline.find(std::string("\0", 1) + w.spec().state_dir + std::string("\0", 1)) !=
              std::string::npos &&
          cmdline.find(std::string("\0run\0", 5)) != std::string::npos) {
        return pid;
      }
    }
    return -1;
  }
  // SIGCONT to a worker that may be stopped (never kill(-1, ...): that
  // would signal every process we may signal).
  void Resume(const WorkerProcess& w) {
    pid_t pid = WorkerPid(w);
    if (pid > 0) kill(pid, SIGCONT);
  }
  bool WorkerAlive(std::size_t i) {
    pid_t pid = WorkerPid(*workers_[i]);
    if (pid <= 0) return false;
    std::string stat = ReadProc("/proc/" + std::to_string(pid) + "/stat");
    std::size_t close = stat.rfind(')');
    return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
  }

  void Apply(Fault fault, std::mt19937_64& rng, std::string* log) {
    // The victim worker: one holding a lease when there is one (so that the
    // fault lands inside a step), else either.
    std::vector<int> busy;
    v1::Campaign now = Get(campaign_id_);
    for (const v1::Step& step : now.steps()) {
      if (step.state() != v1::STEP_STATE_LEASED) continue;
      for (std::size_t i = 0; i < workers_.size(); ++i) {
        if (step.worker_id() == workers_[i]->spec().id) busy.push_back(static_cast<int>(i));
      }
    }
    auto pick = [&](std::mt19937_64& r) {
      if (!busy.empty()) return busy[r() % busy.size()];
      return static_cast<int>(r() % workers_.size());
    };
    switch (fault) {
      case Fault::kKillCohortd: {
        coordinator_->Kill9();
        absl::SleepFor(absl::Milliseconds(std::uniform_int_distribution<int>(0, 1500)(rng)));
        if (absl::Status s = coordinator_->Start(); !s.ok()) {
          absl::StrAppend(log, "(restart failed: ", s.ToString(), ")");
        }
        break;
      }
      case Fault::kKillWorker: {
        int i = pick(rng);
        workers_[i]->Kill9();
        absl::SleepFor(absl::Milliseconds(std::uniform_int_distribution<int>(0, 2000)(rng)));
        // Half the time the worker comes back on its state folder at once;
        // otherwise only at the end of the fault schedule.
        if (rng() % 2 == 0) {
          workers_[i] = NewWorker(i);
          workers_[i]->Start().IgnoreError();
          absl::StrAppend(log, "(w", i, " restarted)");
        } else {
          absl::StrAppend(log, "(w", i, " down)");
        }
        break;
      }
      case Fault::kKillLlamaServer: {
        // llama-server lives only while a generate step runs: wait for one
        // (up to 6 s), then kill it at a random moment of its life.
        std::vector<pid_t> servers;
        absl::Time until = absl::Now() + absl::Seconds(6);
        while (servers.empty() && absl::Now() < until) {
          absl::SleepFor(absl::Milliseconds(20));
          servers = ProcessesMentioning(dir_.path(), "llama-server");
        }
        absl::SleepFor(absl::Milliseconds(std::uniform_int_distribution<int>(0, 400)(rng)));
        for (pid_t pid : servers) kill(pid, SIGKILL);
        absl::StrAppend(log, "(", servers.size(), " killed)");
        break;
      }
      case Fault::kPartitionWorker: {
        // The worker keeps running, cut off from cohortd (and, half the time,
        // from its peer both ways) for 1-8 s: shorter or longer than a lease.
        int i = pick(rng);
        TcpProxy::CutKind how = RandomCut(rng);
        bool from_peer = rng() % 2 == 0;
        int ms = std::uniform_int_distribution<int>(1000, 8000)(rng);
        std::vector<TcpProxy*> cut = {cohortd_links_[i].get()};
        if (from_peer) {
          for (auto& link : artifact_links_) cut.push_back(link.get());
        }
        int reset = Partition(cut, how, absl::Milliseconds(ms));
        absl::StrAppend(log, "(w", i, " from cohortd", from_peer ? "+peer" : "", ", ",
                        CutName(how), " ", ms, "ms, ", reset, " connections reset)");
        break;
      }
      case Fault::kPartitionPeers: {
        // Both still reach cohortd, but not each other's artifact service:
        // input fetches fail or hang.
        TcpProxy::CutKind how = RandomCut(rng);
        int ms = std::uniform_int_distribution<int>(1000, 8000)(rng);
        std::vector<TcpProxy*> cut;
        for (auto& link : artifact_links_) cut.push_back(link.get());
        int reset = Partition(cut, how, absl::Milliseconds(ms));
        absl::StrAppend(log, "(", CutName(how), " ", ms, "ms, ", reset, " connections reset)");
        break;
      }
      case Fault::kSlowDisk:
        SlowDown(rng, pick, log);
        break;
      case Fault::kCutOffWorker: {
        int i = pick(rng);
        pid_t pid = WorkerPid(*workers_[i]);
        if (pid <= 0) break;
        // Past the 4 s lease: cohortd re-leases its steps; the worker then
        // comes back with superseded leases.
        kill(pid, SIGSTOP);
        absl::SleepFor(absl::Milliseconds(std::uniform_int_distribution<int>(4500, 7000)(rng)));
        kill(pid, SIGCONT);
        absl::StrAppend(log, "(w", i, ")");
        break;
      }
    }
  }

  static TcpProxy::CutKind RandomCut(std::mt19937_64& rng) {
    return rng() % 2 == 0 ? TcpProxy::CutKind::kReset : TcpProxy::CutKind::kBlackhole;
  }
  static const char* CutName(TcpProxy::CutKind how) {
    return how == TcpProxy::CutKind::kReset ? "reset" : "blackhole";
  }
  // Cuts `links` for `how_long`, heals them; returns the connections reset.
  static int Partition(const std::vector<TcpProxy*>& links, TcpProxy::CutKind how,
                       absl::Duration how_long) {
    int before = 0;
    for (TcpProxy* link : links) before += link->connections_reset();
    for (TcpProxy* link : links) link->Cut(how);
    absl::SleepFor(how_long);
    for (TcpProxy* link : links) link->Heal();
    int after = 0;
    for (TcpProxy* link : links) after += link->connections_reset();
    return after - before;
  }

  // A slow disk for 2-10 s under cohortd (a third of the time) or a worker:
  // the process is moved into a blkio group throttling the disk that holds
  // its state folder to 2-40 requests/s and 256 KiB-4 MiB/s each way, then
  // moved back. Skipped, with the reason logged, where that cannot be done.
  template <typename Pick>
  void SlowDown(std::mt19937_64& rng, Pick& pick, std::string* log) {
    bool on_cohortd = rng() % 3 == 0;
    int i = pick(rng);
    SlowDisk::Limits limits;
    limits.read_iops = limits.write_iops = std::uniform_int_distribution<uint32_t>(2, 40)(rng);
    limits.read_bps = limits.write_bps =
        std::uniform_int_distribution<uint64_t>(256 << 10, 4 << 20)(rng);
    int ms = std::uniform_int_distribution<int>(2000, 10000)(rng);
    std::string who = on_cohortd ? "cohortd" : absl::StrCat("w", i);
    // The disk of the trial folder, which holds every state folder (a
    // worker that is just starting may not have made its own yet).
    std::string folder = on_cohortd ? dir_.Join("cohortd") : dir_.path();
    pid_t pid = on_cohortd ? (coordinator_->running() ? coordinator_->pid() : -1)
                           : WorkerPid(*workers_[i]);
    if (pid <= 0) {
      absl::StrAppend(log, "(", who, " not running)");
      return;
    }
    static int groups = 0;
    absl::StatusOr<std::unique_ptr<SlowDisk>> disk = SlowDisk::Create(
        folder, absl::StrCat("cohort-chaos-", getpid(), "-", ++groups), limits);
    absl::Status added = disk.ok() ? (*disk)->Add(pid) : disk.status();
    if (!added.ok()) {
      absl::StrAppend(log, "(", who, " skipped: ", added.message(), ")");
      return;
    }
    absl::SleepFor(absl::Milliseconds(ms));
    absl::StrAppend(log, "(", who, " on ", (*disk)->device(), ", ", limits.write_iops,
                    " iops, ", limits.write_bps >> 10, " KiB/s, ", ms, "ms, ",
                    (*disk)->ServicedReads(), " reads + ", (*disk)->ServicedWrites(),
                    " writes throttled)");
  }

  std::unique_ptr<v1::Coordinator::Stub> Stub() {
    return v1::Coordinator::NewStub(coordinator_->Channel());
  }

  std::string Register(const std::string& path, bool folder) {
    std::string hex = folder ? Sha256Folder(path).value() : Sha256File(path).value();
    v1::RegisterArtifactsRequest request;
    v1::Artifact* a = request.add_artifacts();
    a->set_digest("sha256:" + hex);
    a->set_is_folder(folder);
    // cohortd takes shared paths absolute and without ".." components.
    a->add_locations()->set_shared_path(
        std::filesystem::absolute(path).lexically_normal().string());
    v1::RegisterArtifactsResponse response;
    grpc::Status status = Stub()->RegisterArtifacts(
        CohortdProcess::Context(client_token_).get(), request, &response);
    EXPECT_TRUE(status.ok()) << path << ": " << status.error_message();
    return "sha256:" + hex;
  }

  absl::StatusOr<std::string> Submit() {
    std::string base = Register(dir_.Join("base"), true);
    std::string contrib = Register(dir_.Join("contrib.json"), false);
    std::string dataset =
        Register(cohort::testing::DatasetsDir() + "/gsm8k/test.jsonl", false);
    absl::StatusOr<std::string> profile_text =
        ReadFileToString(source_dir_ + "/worker/eval/profiles/omk-card-2026-07.json");
    if (!profile_text.ok()) return profile_text.status();
    json profile = json::parse(*profile_text);
    json gsm8k = profile["benches"]["gsm8k"];
    gsm8k["limit"] = kProblems;
    profile["benches"] = {{"gsm8k", gsm8k}};

    v1::CampaignSpec spec;
    spec.set_name("chaos");
    auto add = [&](const std::string& id, v1::StepKind kind, const json& params) {
      v1::StepSpec* step = spec.add_steps();
      step->set_node_id(id);
      step->set_kind(kind);
      step->set_params_json(params.dump());
      step->set_display_name(id);
      // A trial injects up to three faults, and each may legitimately cost
      // the step it hits one attempt (a llama-server killed while starting,
      // a lease expired while its worker was stopped or partitioned). With
      // the default budget of 3, three faults on one step fail it by design
      // (seen once in 540 trials); "the campaign completes" is what a trial
      // can demand only with a budget above the faults it injects.
      step->set_max_attempts(kStepAttempts);
      return step;
    };
    auto from_artifact = [](v1::StepSpec* step, const std::string& name,
                            const std::string& digest) {
      v1::StepSpecInput* in = step->add_inputs();
      in->set_name(name);
      in->set_artifact_digest(digest);
    };
    auto from_node = [](v1::StepSpec* step, const std::string& name, const std::string& node,
                        const std::string& output) {
      v1::StepSpecInput* in = step->add_inputs();
      in->set_name(name);
      in->mutable_node_output()->set_node_id(node);
      in->mutable_node_output()->set_output(output);
    };
    v1::StepSpec* dm = add("dropmap", v1::STEP_KIND_DROPMAP,
                           {{"flags", {{"target", 6}, {"protect_top", 1}}}});
    from_artifact(dm, "contrib", contrib);
    v1::StepSpec* pr = add("prune", v1::STEP_KIND_PRUNE,
                           {{"upweight", {{"alpha", 1.2}, {"target", "mlp.down_proj.weight"}}}});
    from_artifact(pr, "checkpoint", base);
    from_node(pr, "drop_map", "dropmap", "drop_map");
    v1::StepSpec* cv = add("convert", v1::STEP_KIND_CONVERT, {{"outtype", "bf16"}});
    from_node(cv, "checkpoint", "prune", "checkpoint");
    v1::StepSpec* gen = add("generate", v1::STEP_KIND_GENERATE,
                            {{"bench", "gsm8k"},
                             {"profile", profile},
                             {"shard", {{"index", 0}, {"count", 1}}},
                             {"server", {{"parallel", 2}, {"ctx_size", 65536}}}});
    from_node(gen, "gguf", "convert", "gguf");
    from_artifact(gen, "dataset", dataset);
    v1::StepSpec* sc = add("score", v1::STEP_KIND_SCORE,
                           {{"bench", "gsm8k"}, {"profile", profile}});
    from_node(sc, "completions", "generate", "completions");
    from_artifact(sc, "dataset", dataset);

    v1::SubmitCampaignRequest request;
    *request.mutable_spec() = spec;
    v1::SubmitCampaignResponse response;
    grpc::Status s = Stub()->SubmitCampaign(CohortdProcess::Context(client_token_).get(),
                                            request, &response);
    if (!s.ok()) return absl::InternalError("submit: " + s.error_message());
    return response.campaign_id();
  }

  v1::Campaign Get(const std::string& id) {
    v1::GetCampaignRequest request;
    request.set_campaign_id(id);
    request.set_include_steps(true);
    v1::Campaign campaign;
    Stub()->GetCampaign(CohortdProcess::Context(client_token_, absl::Seconds(3)).get(), request,
                        &campaign);
    return campaign;
  }

  void Collect(const std::string& id, const v1::Campaign& campaign, Outcome* out) {
    std::map<std::string, std::string> kind_of;  // step key -> kind name
    for (const v1::Step& step : campaign.steps()) {
      kind_of[step.key()] = v1::StepKind_Name(step.kind());
      ++out->steps;
      out->attempts += step.attempts();
      std::set<std::string> names;
      for (const v1::StepOutput& o : step.outputs()) {
        if (!names.insert(o.name()).second) ++out->outputs_listed_twice;
      }
    }
    v1::QueryResultsRequest query;
    query.set_campaign_id(id);
    auto context = CohortdProcess::Context(client_token_, absl::Seconds(30));
    auto reader = Stub()->QueryResults(context.get(), query);
    v1::ProblemResult result;
    while (reader->Read(&result)) {
      ResultKey key{kind_of.count(result.step_key()) ? kind_of[result.step_key()]
                                                     : "unknown:" + result.step_key(),
                    result.problem_id(), result.sample_index()};
      Row row{result.completion(), result.finish_reason(), static_cast<int>(result.verdict())};
      if (!out->results.emplace(key, row).second) ++out->duplicate_results;
    }
    grpc::Status status = reader->Finish();
    if (!status.ok()) out->describe += "\nQueryResults: " + status.error_message();
    v1::ListArtifactsRequest list;
    list.set_campaign_id(id);
    v1::ListArtifactsResponse artifacts;
    Stub()->ListArtifacts(CohortdProcess::Context(client_token_).get(), list, &artifacts);
    // ListArtifacts(campaign) lists the outputs of the campaign's steps
    // (artifacts joined with step_outputs). Each step has one output, so a
    // step whose output was registered twice (two digests) shows up as more
    // artifacts than steps, and a lost registration as fewer.
    std::set<std::string> digests;
    for (const v1::Artifact& a : artifacts.artifacts()) {
      if (!digests.insert(a.digest()).second) ++out->artifacts_registered_twice;
    }
    int listed = artifacts.artifacts_size();
    if (listed > campaign.steps_size()) out->artifacts_registered_twice += listed - campaign.steps_size();
    if (listed < campaign.steps_size()) {
      out->describe += absl::StrCat("\n", listed, " outputs registered for ",
                                    campaign.steps_size(), " steps");
      out->outputs_missing += campaign.steps_size() - listed;
    }
  }

  std::string source_dir_;
  cohort::testing::TempDir dir_;
  std::unique_ptr<Coordinator> coordinator_;
  // Per worker: worker -> cohortd, and peers -> the worker's artifact service.
  std::vector<std::unique_ptr<TcpProxy>> cohortd_links_;
  std::vector<std::unique_ptr<TcpProxy>> artifact_links_;
  std::vector<std::unique_ptr<WorkerProcess>> workers_;
  std::string client_token_;
  std::string campaign_id_;
};

void AppendLog(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
  if (const char* path = std::getenv("COHORT_CHAOS_LOG")) {
    std::ofstream(path, std::ios::app) << line << "\n";
  }
}

TEST(ChaosTest, CampaignsSurviveRandomFaultsExactlyOnce) {
  const std::string source_dir = cohort::testing::SourceDir();
  const int trials = EnvInt("COHORT_CHAOS_TRIALS", 3);
  const uint64_t seed = static_cast<uint64_t>(
      EnvInt("COHORT_CHAOS_SEED", static_cast<int>(absl::ToUnixSeconds(absl::Now()) % 1000000)));
  std::mt19937_64 rng(seed);
  AppendLog(absl::StrCat("chaos: seed ", seed, ", ", trials, " trials",
                         ChaosTls() != nullptr ? ", cohortd serving mutual TLS" : ""));

  // The reference: the same campaign without faults.
  Outcome reference;
  absl::Duration reference_time;
  std::string reference_log;
  {
    ChaosTrial trial(source_dir);
    ASSERT_OK(trial.SetUp());
    absl::Time start = absl::Now();
    reference = trial.Run({}, rng, &reference_log);
    reference_time = absl::Now() - start;
    ASSERT_EQ(reference.state, v1::CAMPAIGN_STATE_SUCCEEDED) << reference.describe;
  }
  std::set<std::string> kinds;
  for (const auto& [key, row] : reference.results) kinds.insert(std::get<0>(key));
  // One row per problem for each step kind that streams results (score; and
  // generate, where the worker streams unscored rows too).
  ASSERT_TRUE(kinds.count("STEP_KIND_SCORE")) << reference.describe;
  ASSERT_EQ(reference.results.size(), kinds.size() * kProblems);
  ASSERT_EQ(reference.duplicate_results, 0);
  ASSERT_EQ(reference.artifacts_registered_twice, 0) << reference.describe;
  ASSERT_EQ(reference.outputs_missing, 0) << reference.describe;
  AppendLog(absl::StrCat("reference: ", reference.results.size(), " results (",
                         absl::StrJoin(kinds, ", "), "), ",
                         reference.steps, " steps in ", absl::FormatDuration(reference_time),
                         reference_log));

  absl::StatusOr<std::vector<Fault>> kinds_to_draw = FaultsToDraw();
  ASSERT_OK(kinds_to_draw.status());
  const double span_ms = absl::ToDoubleMilliseconds(reference_time);
  int failed = 0;
  std::map<std::string, int> fault_counts;
  for (int t = 0; t < trials; ++t) {
    ChaosTrial trial(source_dir);
    absl::Status setup = trial.SetUp();
    ASSERT_OK(setup);
    // One to three faults, at uniform moments over the fault-free run time.
    std::vector<std::pair<absl::Duration, Fault>> faults;
    int n = std::uniform_int_distribution<int>(1, 3)(rng);
    for (int i = 0; i < n; ++i) {
      absl::Duration at = absl::Milliseconds(
          std::uniform_real_distribution<double>(0, span_ms)(rng));
      Fault f = (*kinds_to_draw)[std::uniform_int_distribution<std::size_t>(
          0, kinds_to_draw->size() - 1)(rng)];
      faults.emplace_back(at, f);
      ++fault_counts[FaultName(f)];
    }
    std::sort(faults.begin(), faults.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    std::string log;
    absl::Time start = absl::Now();
    Outcome outcome = trial.Run(faults, rng, &log);
    int missing = 0, extra = 0, differ = 0;
    for (const auto& [key, row] : reference.results) {
      auto it = outcome.results.find(key);
      if (it == outcome.results.end()) {
        ++missing;
      } else if (!(it->second == row)) {
        ++differ;
      }
    }
    for (const auto& [key, row] : outcome.results) extra += reference.results.count(key) ? 0 : 1;
    bool ok = outcome.state == v1::CAMPAIGN_STATE_SUCCEEDED && missing == 0 && extra == 0 &&
              differ == 0 && outcome.duplicate_results == 0 &&
              outcome.artifacts_registered_twice == 0 && outcome.outputs_listed_twice == 0 &&
              outcome.outputs_missing == 0;
    AppendLog(absl::StrCat("trial ", t, ": ", ok ? "ok" : "FAILED", " in ",
                           absl::FormatDuration(absl::Trunc(absl::Now() - start,
                                                            absl::Milliseconds(100))),
                           ", attempts ", outcome.attempts, "/", outcome.steps,
                           ", results ", outcome.results.size(), " (missing ", missing,
                           ", extra ", extra, ", differing ", differ, ", duplicate ",
                           outcome.duplicate_results, "), outputs registered twice ",
                           outcome.artifacts_registered_twice, ";", log));
    if (!ok) {
      ++failed;
      ADD_FAILURE() << "trial " << t << " (seed " << seed << "):" << log << "\n"
                    << outcome.describe;
    }
  }
  std::vector<std::string> counts;
  for (const auto& [name, count] : fault_counts) counts.push_back(absl::StrCat(name, "=", count));
  AppendLog(absl::StrCat("chaos: ", trials - failed, "/", trials, " trials ok; faults: ",
                         absl::StrJoin(counts, ", ")));
  EXPECT_EQ(failed, 0);
}

}  // namespace
}  // namespace cohort
