#include "worker/agent/run_command.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/atomic_file.h"
#include "common/endpoint_url.h"
#include "common/grpc_logging.h"
#include "common/logging.h"
#include "common/tls_inspect.h"
#include "spdlog/spdlog.h"
#include "worker/agent/agent.h"
#include "worker/agent/capabilities.h"
#include "worker/agent/gpu_slots.h"
#include "worker/exec/converter_probe.h"
#include "worker/exec/tool_executor.h"

namespace cohort::worker {
namespace {

struct RunFlags {
  AgentOptions agent;
  std::string token_file;
  std::string labels;
  std::string llama_cpp_dir;
  std::string python;
  std::vector<std::string> endpoints;
  std::string endpoint_key_file;
  std::string vllm;
  double gpu_memory_gb = 0;
  double disk_limit_gb = 0;
  int artifact_max_request_kb = AgentOptions().artifact_max_request_bytes >> 10;
  double drain_seconds = 60;
  double exit_when_idle_seconds = 0;
  int gpus_flag = -1;  // -1: detect with nvidia-smi
  std::string log_format = "human";
};

std::string SelfBinary() {
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("cohort-worker") : self.string();
}

std::string FromEnv(const std::string& flag, const char* env, const std::string& fallback) {
  if (!flag.empty()) return flag;
  const char* value = std::getenv(env);
  return value != nullptr && *value != '\0' ? std::string(value) : fallback;
}

// Probes the converter's Python when the script is present. A Python that
// cannot run it takes the converter off `tools` (the coordinator then leases
// convert steps to other workers), sets the refusal message, and is named in
// one warning. Returns the capability entry: "convert_hf_to_gguf.py" with
// what the probe found, or "missing/convert_hf_to_gguf.py" with why.
std::map<std::string, std::string> CheckConverter(ToolConfig& config,
                                                  std::vector<std::string>& tools) {
  constexpr char kConverter[] = "convert_hf_to_gguf.py";
  auto at = std::find(tools.begin(), tools.end(), kConverter);
  if (at == tools.end()) return {};
  ConverterProbe probe =
      ProbeConverterPython(config.python, FindLlamaTool(config.llama_cpp_dir, kConverter));
  if (probe.usable) {
    spdlog::info("{}: {}", kConverter, probe.Summary());
    return {{kConverter, probe.Summary()}};
  }
  tools.erase(at);
  config.converter_problem = probe.problem;
  spdlog::warn("{} (convert steps will go to other workers)", probe.problem);
  return {{std::string("missing/") + kConverter, probe.problem}};
}

// Runs each llama.cpp binary's --version once: its version goes into the
// capabilities; one that is found but does not start (a missing shared
// library, a build for another machine) is taken off `tools` with one
// warning and registered as "missing/<tool>" with the reason.
std::map<std::string, std::string> CheckLlamaTools(const ToolConfig& config,
                                                   std::vector<std::string>& tools) {
  std::map<std::string, std::string> entries;
  for (auto it = tools.begin(); it != tools.end();) {
    // CheckConverter's, the servers of --endpoint (not programs to start),
    // and vLLM (checked when --vllm is read: importing it takes seconds).
    if (*it == "convert_hf_to_gguf.py" || absl::StartsWith(*it, kEndpointToolPrefix) ||
        *it == "vllm") {
      ++it;
      continue;
    }
    ToolCheck check = CheckTool(FindLlamaTool(config.llama_cpp_dir, *it));
    if (check.problem.empty()) {
      entries[*it] = check.version;
      ++it;
      continue;
    }
    spdlog::warn("{} (steps that need {} will go to other workers)", check.problem, *it);
    entries["missing/" + *it] = check.problem;
    it = tools.erase(it);
  }
  return entries;
}

// --vllm (or COHORT_VLLM): a path, or a name looked up on PATH; "" when
// none is given or it is not an executable file (with a warning: generate
// steps served by vLLM then go to other workers).
std::string ResolveVllm(const std::string& given) {
  if (given.empty()) return "";
  std::string found = given.find('/') == std::string::npos ? FindLlamaTool("", given) : given;
  if (found.empty() || access(found.c_str(), X_OK) != 0 ||
      !std::filesystem::is_regular_file(found)) {
    spdlog::warn("--vllm {}: not an executable file (steps served by vLLM go to other workers)",
                 given);
    return "";
  }
  return found;
}

int Run(RunFlags flags) {
  // The spool, the artifact store and token copies: this user's alone from
  // creation on (they held 0644 files).
  umask(077);
  LogOptions log;
  log.program = "cohort-worker";
  if (absl::Status s = ParseLogFormat(flags.log_format, &log.format); !s.ok()) {
    return ReportStatus("run", s);
  }
  if (absl::Status s = InitLogging(log); !s.ok()) return ReportStatus("run", s);
  RouteGrpcLogsToSpdlog();
  if (!flags.agent.tls_cert_file.empty()) {
    // An expired certificate would only ever read as "Socket closed".
    std::string warning;
    absl::Status dates = CheckCertificateDates(flags.agent.tls_cert_file, absl::Now(),
                                               absl::Hours(24 * 30), &warning);
    if (!dates.ok()) return ReportStatus("run", dates);
    if (!warning.empty()) spdlog::warn("{}", warning);
  }
  absl::StatusOr<std::string> token = ReadFileToString(flags.token_file);
  if (!token.ok()) return ReportStatus("run", token.status());
  flags.agent.token = std::string(absl::StripAsciiWhitespace(*token));
  flags.agent.exit_when_idle = absl::Seconds(flags.exit_when_idle_seconds);
  for (absl::string_view label : absl::StrSplit(flags.labels, ',', absl::SkipEmpty())) {
    flags.agent.labels.emplace_back(label);
  }
  flags.agent.gpu_memory_bytes = static_cast<uint64_t>(flags.gpu_memory_gb * (1ull << 30));
  flags.agent.disk_limit_bytes = static_cast<uint64_t>(flags.disk_limit_gb * (1ull << 30));
  flags.agent.artifact_max_request_bytes = flags.artifact_max_request_kb << 10;
  ToolConfig tools;
  tools.self_binary = SelfBinary();
  tools.llama_cpp_dir = FromEnv(flags.llama_cpp_dir, "COHORT_LLAMA_CPP_DIR", "");
  tools.python = FromEnv(flags.python, "COHORT_PYTHON", "/usr/bin/python3");
  tools.endpoints = flags.endpoints;
  tools.endpoint_key_file = flags.endpoint_key_file;
  tools.vllm = ResolveVllm(FromEnv(flags.vllm, "COHORT_VLLM", ""));
  flags.agent.tools = AvailableTools(tools);
  std::map<std::string, std::string> converter_capability = CheckConverter(tools, flags.agent.tools);
  std::map<std::string, std::string> llama_tools = CheckLlamaTools(tools, flags.agent.tools);
  flags.agent.tool_versions = DetectToolVersions({});  // the code toolchains
  flags.agent.tool_versions.insert(converter_capability.begin(), converter_capability.end());
  flags.agent.tool_versions.insert(llama_tools.begin(), llama_tools.end());
  if (flags.gpus_flag < 0) {
    // No --gpus: offer what nvidia-smi reports (none without it).
    std::vector<GpuDescription> gpus = DetectGpus();
    flags.agent.gpus = static_cast<uint32_t>(gpus.size());
    for (const GpuDescription& gpu : gpus) {
      if (flags.agent.gpu_memory_bytes == 0 || gpu.memory_bytes < flags.agent.gpu_memory_bytes) {
        flags.agent.gpu_memory_bytes = gpu.memory_bytes;
      }
      flags.agent.gpu_model = gpu.model;
    }
  } else {
    flags.agent.gpus = static_cast<uint32_t>(flags.gpus_flag);
  }
  if (const char* visible = std::getenv("CUDA_VISIBLE_DEVICES"); visible != nullptr) {
    // Started on some cards only (a Slurm job's allocation): the worker's
    // slots are those cards, and a step gets one of them, never another
    // job's card.
    flags.agent.cuda_devices = CudaDeviceList(visible);
    if (flags.gpus_flag < 0) {
      flags.agent.gpus = std::min<uint32_t>(
          flags.agent.gpus, static_cast<uint32_t>(flags.agent.cuda_devices.size()));
    } else if (flags.agent.gpus > flags.agent.cuda_devices.size()) {
      return ReportStatus("run", absl::InvalidArgumentError(absl::StrCat(
                                     "--gpus ", flags.agent.gpus, " but CUDA_VISIBLE_DEVICES='",
                                     visible, "' names ", flags.agent.cuda_devices.size(),
                                     " device(s)")));
    }
  }
  ToolExecutor executor(tools);

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // One thread waits for the signal from the start: a worker still trying
  // to register (cohortd down, a TLS refusal) stops on SIGTERM too, instead
  // of ignoring it until registered.
  std::atomic<int> signal_number{0};
  absl::Notification signalled;
  // What ends the run: a signal, or --exit-when-idle (the agent's on_idle).
  absl::Mutex stop_mu;
  bool stop = false;
  bool idle = false;
  std::thread waiter([&] {
    int number = 0;
    sigwait(&signals, &number);
    signal_number.store(number);
    signalled.Notify();
    absl::MutexLock lock(&stop_mu);
    stop = true;
  });
  flags.agent.on_idle = [&] {
    absl::MutexLock lock(&stop_mu);
    stop = idle = true;
  };
  Agent agent(flags.agent, executor);
  std::atomic<bool> started{false};
  std::thread canceller([&] {
    signalled.WaitForNotification();
    if (!started.load()) agent.CancelStart();
  });
  absl::Status start = agent.Start();
  started.store(true);
  // Ends the waiter (still in sigwait unless a signal came: woken by a
  // SIGTERM of our own) and the canceller.
  auto join_waiters = [&] {
    if (!signalled.HasBeenNotified()) pthread_kill(waiter.native_handle(), SIGTERM);
    waiter.join();
    canceller.join();
  };
  if (!start.ok()) {
    join_waiters();
    if (start.code() == absl::StatusCode::kCancelled) {
      spdlog::info("signal {}: stopped before registering", signal_number.load());
      return kExitOk;
    }
    return ReportStatus("run", start);
  }
  {
    absl::MutexLock lock(&stop_mu);
    stop_mu.Await(absl::Condition(&stop));
  }
  join_waiters();
  bool stopped_idle = false;
  {
    absl::MutexLock lock(&stop_mu);
    stopped_idle = idle;
  }
  if (stopped_idle) {
    spdlog::info("idle for --exit-when-idle: draining");
  } else {
    spdlog::info("signal {}: draining", signal_number.load());
  }
  agent.Drain(absl::Seconds(flags.drain_seconds));
  return kExitOk;
}

}  // namespace

void AddRunCommand(CLI::App& app, CommandFn* selected) {
  auto flags = std::make_shared<RunFlags>();
  CLI::App* cmd = app.add_subcommand(
      "run", "Run as a worker agent: lease steps from cohortd and execute them");
  cmd->add_option("--coordinator", flags->agent.coordinator, "cohortd host:port")
      ->capture_default_str();
  cmd->add_option("--token-file", flags->token_file, "file holding a worker token")
      ->required();
  cmd->add_option("--state-dir", flags->agent.state_dir,
                  "spool, artifact store and step logs")
      ->capture_default_str();
  cmd->add_option("--worker-id", flags->agent.worker_id,
                  "stable id (default: saved in the state dir)");
  cmd->add_option("--slots", flags->agent.slots, "steps run at once")->capture_default_str();
  cmd->add_option("--gpus", flags->gpus_flag,
                  "GPUs offered (default: as many as nvidia-smi lists, else 0)");
  cmd->add_option("--gpu-memory-gb", flags->gpu_memory_gb, "memory per GPU");
  cmd->add_option("--gpu-model", flags->agent.gpu_model, "GPU model name");
  cmd->add_option("--labels", flags->labels, "comma-separated labels");
  cmd->add_option("--artifact-listen", flags->agent.artifact_listen,
                  "host:port of this worker's artifact service")
      ->capture_default_str();
  cmd->add_option("--artifact-advertise-host", flags->agent.artifact_advertise_host,
                  "host peers use to reach the artifact service")
      ->capture_default_str();
  cmd->add_option("--artifact-max-request-kb", flags->artifact_max_request_kb,
                  "refuse artifact-service requests larger than this (RESOURCE_EXHAUSTED)")
      ->capture_default_str()
      ->check(CLI::Range(1, 65536));
  cmd->add_option("--llama-cpp-dir", flags->llama_cpp_dir,
                  "llama.cpp checkout or install (env COHORT_LLAMA_CPP_DIR)");
  cmd->add_option("--python", flags->python, "python for convert_hf_to_gguf.py (env COHORT_PYTHON)");
  cmd->add_option("--endpoint", flags->endpoints,
                  "an OpenAI-compatible server (vLLM) campaigns may send this worker's "
                  "requests to, e.g. http://gpu-box:8000 (repeat); no other is used")
      ->check([](const std::string& url) -> std::string {
        return IsEndpointUrl(url) ? std::string() : "an http:// or https:// URL without spaces";
      });
  cmd->add_option("--endpoint-key-file", flags->endpoint_key_file,
                  "a file holding the --endpoint servers' API key (sent as Authorization: Bearer)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--vllm", flags->vllm,
                  "vLLM's `vllm` command, for references a campaign serves with it from a "
                  "checkpoint folder (env COHORT_VLLM; none: such steps go to other workers)");
  cmd->add_option("--disk-limit-gb", flags->disk_limit_gb, "artifact store capacity (0: unlimited)");
  cmd->add_option("--exit-when-idle", flags->exit_when_idle_seconds,
                  "stop once no step has been held or offered for this many seconds "
                  "(0: never; a Slurm array task frees its GPU when the sweep ends)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--drain-seconds", flags->drain_seconds,
                  "on SIGTERM, time to finish running steps before handing them back")
      ->capture_default_str();
  cmd->add_option("--shared-root", flags->agent.shared_roots,
                  "a folder (repeatable) whose files steps may read as shared-path inputs, "
                  "each checked against its registered digest; none: no shared paths")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--tls-ca", flags->agent.tls_ca_file,
                  "CA certificate (PEM): reach cohortd and peers over TLS");
  cmd->add_option("--tls-cert", flags->agent.tls_cert_file,
                  "this worker's certificate (PEM): mTLS to cohortd, TLS on the artifact listener");
  cmd->add_option("--tls-key", flags->agent.tls_key_file, "this worker's private key (PEM)");
  cmd->add_option("--tls-server-name", flags->agent.tls_server_name,
                  "the name cohortd's certificate must carry (default: the coordinator's host)");
  cmd->add_option("--log-format", flags->log_format, "human or json")->capture_default_str();
  cmd->callback([flags, selected] { *selected = [flags] { return Run(*flags); }; });
}

}  // namespace cohort::worker
