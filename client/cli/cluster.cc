// up / down: a local cluster (cohortd and N cohort-worker processes) whose
// state lives in one folder: cohortd/ (database, port file, log), worker-<i>/,
// tokens (mode 0600), pid files, config.yaml. Processes are detached (own
// session) so they outlive this command; `down` stops exactly the pids in
// the pid files, after checking each still runs the binary we started.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "absl/time/clock.h"
#include "client/cli/commands.h"
#include "common/atomic_file.h"
#include "common/status_macros.h"
#include "common/subprocess.h"

namespace cohort::client {
namespace {

namespace fs = std::filesystem;

// cohortd and cohort-worker beside this binary, else on PATH.
std::string Sibling(const std::string& name) {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec && fs::exists(self.parent_path() / name)) return (self.parent_path() / name).string();
  return name;
}

// fork, setsid, exec with stdout/stderr to `log`; returns the child's pid.
absl::StatusOr<pid_t> SpawnDetached(const std::vector<std::string>& argv,
                                    const std::string& log) {
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    setsid();
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0) dup2(null, 0);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  return pid;
}

absl::Status WriteSecret(const std::string& path, const std::string& text) {
  COHORT_RETURN_IF_ERROR(WriteFileAtomically(path, text));
  chmod(path.c_str(), 0600);
  return absl::OkStatus();
}

// `worker_id`: for a worker token, the one worker it may act as.
absl::StatusOr<std::string> CreateToken(const std::string& cohortd_dir, const std::string& role,
                                        const std::string& worker_id = "") {
  SubprocessOptions options;
  options.argv = {Sibling("cohortd"), "--state-dir", cohortd_dir, "--log-level", "warn",
                  "token", "create", "--role", role, "--name",
                  worker_id.empty() ? "local-" + role : worker_id};
  if (!worker_id.empty()) options.argv.insert(options.argv.end(), {"--worker-id", worker_id});
  COHORT_ASSIGN_OR_RETURN(SubprocessResult r, RunSubprocess(options));
  if (!r.Succeeded()) return absl::InternalError("cohortd token create: " + r.Describe());
  return std::string(absl::StripAsciiWhitespace(r.stdout_data));
}

bool Running(pid_t pid, const std::string& binary) {
  absl::StatusOr<std::string> cmdline = ReadFileToString(absl::StrCat("/proc/", pid, "/cmdline"));
  return cmdline.ok() && cmdline->find(binary) != std::string::npos;
}

absl::StatusOr<int> WaitForPort(const std::string& port_file, pid_t pid) {
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    absl::StatusOr<std::string> text = ReadFileToString(port_file);
    int port = 0;
    if (text.ok() && absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &port)) return port;
    // Our own child: it has exited once waitpid reaps it. (Its cmdline is
    // ours until exec, so Running() would misjudge the first moments.)
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  // Say why: cohortd's last log line holds its refusal (a TLS flag missing,
  // a plaintext listener off loopback, a port in use).
  const std::string log_path = (fs::path(port_file).parent_path() / "cohortd.log").string();
  const std::string log = ReadFileToString(log_path).value_or("");
  absl::string_view last = absl::StripTrailingAsciiWhitespace(log);
  const size_t newline = last.rfind('\n');
  if (newline != absl::string_view::npos) last.remove_prefix(newline + 1);
  return absl::UnavailableError(absl::StrCat("cohortd did not start", last.empty() ? "" : ": ",
                                             last, " (log: ", log_path, ")"));
}

std::vector<std::string> CohortdArgv(const ClusterOptions& o, const std::string& dir) {
  std::vector<std::string> argv = {Sibling("cohortd"), "--listen",  o.listen,
                                   "--state-dir",      dir,         "--port-file",
                                   dir + "/port",
                                   // One user's machine: clients may register any path.
                                   "--shared-root", "/"};
  if (o.insecure_plaintext) argv.push_back("--insecure-plaintext");
  if (!o.dashboard_listen.empty()) {
    argv.insert(argv.end(), {"--dashboard-listen", o.dashboard_listen, "--dashboard-port-file",
                             dir + "/dashboard.port"});
  }
  return argv;
}

int ReadPid(const std::string& file) {
  absl::StatusOr<std::string> text = ReadFileToString(file);
  int pid = 0;
  if (!text.ok() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &pid)) return 0;
  return pid;
}

// What runs from a state folder: cohortd's pid (0 when it is not running),
// the port it serves or last served, and each worker's pid (0: not running).
struct ClusterState {
  int cohortd_pid = 0;
  int port = 0;
  std::map<int, int> worker_pids;
};

ClusterState Inspect(const std::string& dir, int workers) {
  ClusterState st;
  int pid = ReadPid(dir + "/cohortd.pid");
  if (pid > 0 && Running(pid, "cohortd")) st.cohortd_pid = pid;
  absl::StatusOr<std::string> port = ReadFileToString(dir + "/cohortd/port");
  if (port.ok()) (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(*port), &st.port);
  for (int i = 0; i < workers; ++i) {
    int w = ReadPid(absl::StrCat(dir, "/worker-", i, ".pid"));
    st.worker_pids[i] = w > 0 && Running(w, "cohort-worker") ? w : 0;
  }
  return st;
}

// The options `up` ran with, kept in the folder for `restart`.
absl::Status SaveOptions(const std::string& dir, const ClusterOptions& o) {
  nlohmann::json j = {{"listen", o.listen},
                      {"workers", o.workers},
                      {"gpus_per_worker", o.gpus_per_worker},
                      {"llama_cpp_dir", o.llama_cpp_dir},
                      {"endpoints", o.endpoints},
                      {"endpoint_key_file", o.endpoint_key_file},
                      {"vllm", o.vllm},
                      {"insecure_plaintext", o.insecure_plaintext},
                      {"dashboard_listen", o.dashboard_listen}};
  return WriteFileAtomically(dir + "/up.json", j.dump(1) + "\n");
}

absl::StatusOr<ClusterOptions> LoadOptions(const ClusterOptions& given) {
  std::string dir = fs::absolute(given.state_dir).lexically_normal().string();
  absl::StatusOr<std::string> text = ReadFileToString(dir + "/up.json");
  if (!text.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no cluster was started from ", dir, " (no up.json); `cohort up --state-dir ",
        given.state_dir, "` starts one"));
  }
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
  if (!j.is_object()) return absl::DataLossError(dir + "/up.json: not a JSON object");
  ClusterOptions o = given;
  o.listen = j.value("listen", o.listen);
  o.workers = j.value("workers", o.workers);
  o.gpus_per_worker = j.value("gpus_per_worker", o.gpus_per_worker);
  o.llama_cpp_dir = j.value("llama_cpp_dir", o.llama_cpp_dir);
  if (j.contains("endpoints") && j["endpoints"].is_array()) {
    o.endpoints.clear();
    for (const nlohmann::json& url : j["endpoints"]) {
      if (url.is_string()) o.endpoints.push_back(url.get<std::string>());
    }
  }
  o.endpoint_key_file = j.value("endpoint_key_file", o.endpoint_key_file);
  o.vllm = j.value("vllm", o.vllm);
  o.insecure_plaintext = j.value("insecure_plaintext", o.insecure_plaintext);
  o.dashboard_listen = j.value("dashboard_listen", o.dashboard_listen);
  o.write_user_config = false;
  return o;
}

// cohortd's --listen for this start: while workers of the folder still run
// (they know the old address), a restart keeps its port when --listen asked
// for any port; otherwise any free port will do.
std::string ListenFor(const ClusterOptions& o, const ClusterState& st) {
  size_t colon = o.listen.rfind(':');
  if (st.port > 0 && colon != std::string::npos && o.listen.substr(colon + 1) == "0") {
    return absl::StrCat(o.listen.substr(0, colon), ":", st.port);
  }
  return o.listen;
}

// Where the dashboard serves, once cohortd wrote its port, and how to sign
// in (the client token `up` made).
void PrintDashboard(const ClusterOptions& o, const std::string& cohortd_dir,
                    const std::string& dir) {
  if (o.dashboard_listen.empty()) return;
  const std::string port_file = cohortd_dir + "/dashboard.port";
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  absl::StatusOr<std::string> port = ReadFileToString(port_file);
  while (!port.ok() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
    port = ReadFileToString(port_file);
  }
  if (!port.ok()) {
    std::printf("dashboard: not serving yet (see %s/cohortd.log)\n", cohortd_dir.c_str());
    return;
  }
  std::string host = o.dashboard_listen.substr(0, o.dashboard_listen.rfind(':'));
  if (host.empty() || host == "0.0.0.0" || host == "*") host = "127.0.0.1";
  std::printf("dashboard: http://%s:%s/ (sign in with the token in %s/client.token)\n",
              host.c_str(), std::string(absl::StripAsciiWhitespace(*port)).c_str(), dir.c_str());
}

absl::Status Up(const ClusterOptions& o) {
  // The state folder holds tokens and the cluster's database: no window in
  // which another user can read a freshly written token file.
  umask(077);
  std::string dir = fs::absolute(o.state_dir).lexically_normal().string();
  std::string cohortd_dir = dir + "/cohortd";
  ClusterState st = Inspect(dir, o.workers);
  int alive_workers = 0;
  for (const auto& [i, pid] : st.worker_pids) alive_workers += pid > 0;
  if (st.cohortd_pid > 0 && alive_workers == o.workers) {
    std::printf("a cluster already runs from %s: cohortd pid %d on port %d, %d worker(s); "
                "nothing started (`cohort restart --state-dir %s` restarts it)\n",
                dir.c_str(), st.cohortd_pid, st.port, o.workers, o.state_dir.c_str());
    return absl::OkStatus();
  }
  std::error_code ec;
  fs::create_directories(cohortd_dir, ec);
  if (ec) return absl::InvalidArgumentError("--state-dir " + dir + ": " + ec.message());
  COHORT_RETURN_IF_ERROR(SaveOptions(dir, o));
  int pid = st.cohortd_pid;
  int port = st.port;
  if (pid > 0) {
    std::printf("cohortd pid %d still runs: kept\n", pid);
  } else {
    ClusterOptions start = o;
    if (alive_workers > 0) start.listen = ListenFor(o, st);
    fs::remove(cohortd_dir + "/port", ec);
    fs::remove(cohortd_dir + "/dashboard.port", ec);
    COHORT_ASSIGN_OR_RETURN(
        pid, SpawnDetached(CohortdArgv(start, cohortd_dir), cohortd_dir + "/cohortd.log"));
    COHORT_RETURN_IF_ERROR(WriteFileAtomically(dir + "/cohortd.pid", absl::StrCat(pid, "\n")));
    COHORT_ASSIGN_OR_RETURN(port, WaitForPort(cohortd_dir + "/port", pid));
  }
  std::string host = o.listen.substr(0, o.listen.rfind(':'));
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  std::string address = absl::StrCat(host, ":", port);
  // Tokens live in cohortd's database: those of an earlier start stay valid.
  if (!fs::exists(dir + "/client.token")) {
    COHORT_ASSIGN_OR_RETURN(std::string client_token, CreateToken(cohortd_dir, "client"));
    COHORT_RETURN_IF_ERROR(WriteSecret(dir + "/client.token", client_token + "\n"));
  }
  for (int i = 0; i < o.workers; ++i) {
    if (st.worker_pids[i] > 0) {
      std::printf("worker-%d pid %d still runs: kept\n", i, st.worker_pids[i]);
      continue;
    }
    std::string wdir = absl::StrCat(dir, "/worker-", i);
    fs::create_directories(wdir, ec);
    // One token per worker, issued for its id: a worker cannot act as
    // another.
    const std::string worker_id = absl::StrCat("local-", i);
    const std::string token_file = absl::StrCat(dir, "/worker-", i, ".token");
    if (!fs::exists(token_file)) {
      COHORT_ASSIGN_OR_RETURN(std::string token, CreateToken(cohortd_dir, "worker", worker_id));
      COHORT_RETURN_IF_ERROR(WriteSecret(token_file, token + "\n"));
    }
    std::vector<std::string> argv = {Sibling("cohort-worker"), "run", "--coordinator", address,
                                     "--token-file", token_file, "--state-dir", wdir,
                                     "--worker-id", worker_id,
                                     // One user's cluster on one machine: any folder that
                                     // user reads (inputs are still digest-checked).
                                     "--shared-root", "/"};
    if (o.gpus_per_worker > 0) {
      argv.insert(argv.end(), {"--gpus", std::to_string(o.gpus_per_worker)});
    }
    if (!o.llama_cpp_dir.empty()) argv.insert(argv.end(), {"--llama-cpp-dir", o.llama_cpp_dir});
    for (const std::string& url : o.endpoints) argv.insert(argv.end(), {"--endpoint", url});
    if (!o.endpoint_key_file.empty()) {
      argv.insert(argv.end(), {"--endpoint-key-file",
                               fs::absolute(o.endpoint_key_file).lexically_normal().string()});
    }
    if (!o.vllm.empty()) {
      // A path relative to where `up` ran (a bare name is looked up on PATH).
      std::string vllm = o.vllm.find('/') == std::string::npos
                             ? o.vllm
                             : fs::absolute(o.vllm).lexically_normal().string();
      argv.insert(argv.end(), {"--vllm", vllm});
    }
    COHORT_ASSIGN_OR_RETURN(pid_t wpid, SpawnDetached(argv, wdir + "/worker.log"));
    COHORT_RETURN_IF_ERROR(
        WriteFileAtomically(absl::StrCat(dir, "/worker-", i, ".pid"), absl::StrCat(wpid, "\n")));
  }
  std::string config = ConfigText(address, dir + "/client.token");
  COHORT_RETURN_IF_ERROR(WriteFileAtomically(dir + "/config.yaml", config));
  std::printf("cohortd %s (pid %d), %d worker(s); state in %s\n", address.c_str(), pid,
              o.workers, dir.c_str());
  std::printf("config: %s/config.yaml\n", dir.c_str());
  PrintDashboard(o, cohortd_dir, dir);
  if (o.write_user_config && !fs::exists(DefaultConfigPath())) {
    fs::create_directories(fs::path(DefaultConfigPath()).parent_path(), ec);
    COHORT_RETURN_IF_ERROR(WriteFileAtomically(DefaultConfigPath(), config));
    std::printf("config: %s (default for cohort commands)\n", DefaultConfigPath().c_str());
  } else {
    std::printf("use it with: export COHORT_CONFIG=%s/config.yaml\n", dir.c_str());
  }
  return absl::OkStatus();
}

// SIGTERM, up to 15 s, then SIGKILL.
void Stop(pid_t pid) {
  kill(pid, SIGTERM);
  absl::Time deadline = absl::Now() + absl::Seconds(15);
  while (absl::Now() < deadline && kill(pid, 0) == 0) {
    // Reap if it is our child (it is not, once detached; harmless otherwise).
    absl::SleepFor(absl::Milliseconds(50));
    if (!Running(pid, "cohort")) return;
  }
  if (kill(pid, 0) == 0) kill(pid, SIGKILL);
}

absl::Status Down(const ClusterOptions& o) {
  std::string dir = fs::absolute(o.state_dir).lexically_normal().string();
  std::vector<std::pair<std::string, std::string>> pid_files;  // file, binary
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name.rfind("worker-", 0) == 0 && entry.path().extension() == ".pid") {
      pid_files.emplace_back(entry.path().string(), "cohort-worker");
    }
  }
  if (ec) return absl::InvalidArgumentError("--state-dir " + dir + ": " + ec.message());
  pid_files.emplace_back(dir + "/cohortd.pid", "cohortd");  // workers first
  int stopped = 0;
  for (const auto& [file, binary] : pid_files) {
    int pid = ReadPid(file);
    if (pid == 0) continue;
    if (Running(pid, binary)) {
      Stop(pid);
      ++stopped;
    }
    fs::remove(file, ec);
  }
  fs::remove(dir + "/cohortd/port", ec);  // a fresh `up` takes any free port
  std::printf("stopped %d process(es) of %s\n", stopped, dir.c_str());
  return absl::OkStatus();
}

// Stops `part` ("cohortd", "workers" or "" for both) of the folder's
// cluster, then brings it back with the options `up` saved.
absl::Status Restart(const ClusterOptions& given, const std::string& part) {
  COHORT_ASSIGN_OR_RETURN(ClusterOptions o, LoadOptions(given));
  std::string dir = fs::absolute(o.state_dir).lexically_normal().string();
  ClusterState st = Inspect(dir, o.workers);
  if (part.empty() || part == "workers") {
    for (const auto& [i, pid] : st.worker_pids) {
      if (pid > 0) Stop(pid);
    }
  }
  if ((part.empty() || part == "cohortd") && st.cohortd_pid > 0) Stop(st.cohortd_pid);
  return Up(o);
}

}  // namespace

int RunRestart(const GlobalOptions&, const ClusterOptions& o, const std::string& part) {
  return ExitWith(Restart(o, part));
}
int RunUp(const GlobalOptions&, const ClusterOptions& o) { return ExitWith(Up(o)); }
int RunDown(const GlobalOptions&, const ClusterOptions& o) { return ExitWith(Down(o)); }

}  // namespace cohort::client
