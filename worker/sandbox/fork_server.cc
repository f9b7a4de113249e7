#include "worker/sandbox/fork_server.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/errno_status.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "worker/sandbox/cgroup.h"
#include "worker/sandbox/run_common.h"
#include "worker/sandbox/seccomp_filter.h"
#include "worker/sandbox/spawn.h"
#include "worker/sandbox/toolchains.h"

namespace cohort::worker::sandbox {
namespace {

constexpr char kSetupPrefix[] = "sandbox setup: ";
constexpr int kSetupFailed = 125;  // fork_server.py's SETUP_FAILED
// The server's own /tmp (the children mount their own over it).
constexpr int64_t kServerTmpSize = 1 << 20;
// Room in the cgroup's task limit for the server, the child's two setup
// processes and bwrap's.
constexpr int kServerTasks = 8;
constexpr absl::Duration kStartTimeout = absl::Seconds(30);

// The server's bwrap: the same namespaces and root as the bwrap runner, but
// no seccomp filter and three capabilities inside its own user namespace
// (mount and unshare for the children's namespaces, bringing their
// loopback up, mapping uid 0 in their user namespace); every child drops
// all of them before the program runs.
std::vector<std::string> ServerArgs(const PythonPreload& preload) {
  std::vector<std::string> a = BwrapBaseArgs(kServerTmpSize);
  a.insert(a.begin() + 1, {"--cap-drop", "ALL", "--cap-add", "CAP_SYS_ADMIN", "--cap-add",
                           "CAP_NET_ADMIN", "--cap-add", "CAP_SETFCAP"});
  a.insert(a.end(), {"--dir", kTaskDir, "--remount-ro", "/", "--chdir", "/", "--clearenv"});
  SandboxSpec base;
  for (const auto& [k, v] : SandboxEnv(base)) a.insert(a.end(), {"--setenv", k, v});
  nlohmann::json sources = preload.sources;
  a.insert(a.end(), {"--", kPython, "-I", "-S", "-c", ForkServerSource(),
                     absl::StrJoin(preload.modules, ","), sources.dump()});
  return a;
}

absl::Status CheckSpec(const SandboxSpec& spec) {
  if (spec.argv.size() < 4 || spec.argv[0] != kPython || spec.argv[1] != "-I" ||
      spec.argv[2] != "-S" || !absl::StartsWith(spec.argv[3], absl::StrCat(kTaskDir, "/"))) {
    return absl::InvalidArgumentError(
        absl::StrCat("fork server: argv must be ", kPython, " -I -S ", kTaskDir, "/FILE ..."));
  }
  if (!spec.host_workdir.empty() || spec.workdir_writable || !spec.ro_paths.empty()) {
    return absl::InvalidArgumentError(
        "fork server: host_workdir, workdir_writable and ro_paths are not supported");
  }
  for (const auto& [name, bytes] : spec.files) COHORT_RETURN_IF_ERROR(CheckFileName(name));
  return absl::OkStatus();
}

// The request the server's child reads from a memfd: a JSON header line,
// then the files' bytes in header order.
std::string RequestBytes(const SandboxSpec& spec) {
  const Limits& l = spec.limits;
  int64_t cpu = CpuSeconds(l);
  nlohmann::json rlimits = {{"cpu", {cpu, cpu + 1}},     {"nproc", l.processes},
                            {"nofile", l.open_files},    {"fsize", l.file_size},
                            {"core", 0}};
  if (l.address_space > 0) rlimits["as"] = l.address_space;
  nlohmann::json files = nlohmann::json::array();
  for (const auto& [name, bytes] : spec.files) files.push_back({name, bytes.size()});
  nlohmann::json header = {{"argv", spec.argv}, {"env", SandboxEnv(spec)},
                           {"cwd", spec.cwd},   {"rlimits", rlimits},
                           {"tmp_size", l.tmp_size}, {"files", files}};
  std::string text = header.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  text.push_back('\n');
  for (const auto& [name, bytes] : spec.files) text.append(bytes);
  return text;
}

absl::Status SendWithFds(int socket_fd, const std::vector<int>& fds) {
  char byte = 'R';
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
  cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
  std::memcpy(CMSG_DATA(cmsg), fds.data(), sizeof(int) * fds.size());
  ssize_t n;
  do {
    n = sendmsg(socket_fd, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n != 1) return ErrnoToStatus(errno, "fork server: sendmsg");
  return absl::OkStatus();
}

// Closes every descriptor in `fds` that is >= 0.
void CloseAll(std::initializer_list<int> fds) {
  for (int fd : fds) {
    if (fd >= 0) close(fd);
  }
}

class ForkServer {
 public:
  static absl::StatusOr<std::unique_ptr<ForkServer>> Start(
      const PythonPreload& preload, const Limits& limits);
  ~ForkServer() { Stop(); }
  ForkServer(const ForkServer&) = delete;
  ForkServer& operator=(const ForkServer&) = delete;

  absl::StatusOr<SandboxResult> Run(const SandboxSpec& spec);
  bool alive() const { return pid_ > 0; }
  const std::string& key() const { return key_; }

 private:
  ForkServer() = default;
  absl::Status AwaitReady();
  // Kills the server and everything under it; a later Run needs a new one.
  void Kill();
  void Stop();
  // Reads the child's status line; sets *finished on it or on EOF.
  void ReadStatus(bool* finished, SpawnOutcome* outcome);

  pid_t pid_ = -1;
  int control_ = -1;
  int log_fd_ = -1;  // the server's own stdout/stderr (a memfd)
  std::string key_;
  std::unique_ptr<RunCgroup> cgroup_;
  std::pair<int64_t, int> cgroup_limits_ = {-1, -1};  // as last set
  std::string status_line_;
  bool status_eof_ = false;
};

// Identifies a preload: servers are reused only for the same one.
std::string PreloadKey(const PythonPreload& preload) {
  nlohmann::json key = {{"modules", preload.modules}, {"sources", preload.sources}};
  return key.dump();
}

absl::StatusOr<std::unique_ptr<ForkServer>> ForkServer::Start(
    const PythonPreload& preload, const Limits& limits) {
  std::unique_ptr<ForkServer> server(new ForkServer());
  server->key_ = PreloadKey(preload);
  COHORT_ASSIGN_OR_RETURN(std::string bpf, SeccompBpf());
  COHORT_ASSIGN_OR_RETURN(int bpf_fd, MemFile("cohort-seccomp", bpf));
  absl::StatusOr<int> log_fd = MemFile("cohort-fork-server-log", "");
  int sockets[2];
  if (!log_fd.ok() || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) != 0) {
    int err = errno;
    CloseAll({bpf_fd, log_fd.ok() ? *log_fd : -1});
    return log_fd.ok() ? ErrnoToStatus(err, "fork server: socketpair") : log_fd.status();
  }
  server->control_ = sockets[0];
  server->log_fd_ = *log_fd;
  server->cgroup_ = RunCgroup::Create(limits.memory, limits.processes + kServerTasks);
  SpawnRequest request;
  request.argv = ServerArgs(preload);
  request.env = {"PATH=/usr/bin:/bin"};
  request.extra_fds = {sockets[1], bpf_fd};
  if (server->cgroup_ != nullptr) request.cgroup_procs = server->cgroup_->procs_files();
  absl::StatusOr<pid_t> pid = Spawn(request, *log_fd, *log_fd);
  CloseAll({sockets[1], bpf_fd});
  if (!pid.ok()) return pid.status();
  server->pid_ = *pid;
  COHORT_RETURN_IF_ERROR(server->AwaitReady());
  return server;
}

absl::Status ForkServer::AwaitReady() {
  std::string got;
  absl::Time deadline = absl::Now() + kStartTimeout;
  while (!absl::EndsWith(got, "\n")) {
    pollfd p{control_, POLLIN, 0};
    int left = static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
    if (left <= 0 || (poll(&p, 1, left) < 0 && errno != EINTR)) break;
    char buffer[64];
    ssize_t n = read(control_, buffer, sizeof(buffer));
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) break;
    if (n > 0) got.append(buffer, n);
  }
  if (got == "ready\n") return absl::OkStatus();
  Kill();
  char log[2048];
  ssize_t n = pread(log_fd_, log, sizeof(log), 0);
  return absl::FailedPreconditionError(absl::StrCat(
      "fork server did not start: ", n > 0 ? std::string(log, n) : "(no output)"));
}

void ForkServer::Kill() {
  if (pid_ <= 0) return;
  kill(-pid_, SIGKILL);
  if (cgroup_ != nullptr) cgroup_->KillAll();
  while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

void ForkServer::Stop() {
  // Closing the control socket ends the server's loop; the kill makes sure.
  CloseAll({control_, log_fd_});
  control_ = log_fd_ = -1;
  Kill();
}

void ForkServer::ReadStatus(bool* finished, SpawnOutcome* outcome) {
  char buffer[128];
  ssize_t n = read(control_, buffer, sizeof(buffer));
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) {
    status_eof_ = true;  // the server died (killed, or its cgroup's OOM killer)
    outcome->wait_status = SIGKILL;  // as if signalled
    *finished = true;
    return;
  }
  status_line_.append(buffer, n);
  if (!absl::EndsWith(status_line_, "\n")) return;
  std::vector<std::string> parts = absl::StrSplit(status_line_, absl::ByAnyChar(" \n"),
                                                   absl::SkipEmpty());
  int64_t user_us = 0, system_us = 0;
  if (parts.size() != 3 || !absl::SimpleAtoi(parts[0], &outcome->wait_status) ||
      !absl::SimpleAtoi(parts[1], &user_us) || !absl::SimpleAtoi(parts[2], &system_us)) {
    status_eof_ = true;  // not a status: treat the server as broken
    outcome->wait_status = SIGKILL;
  }
  outcome->cpu_time = absl::Microseconds(user_us + system_us);
  *finished = true;
}

absl::StatusOr<SandboxResult> ForkServer::Run(const SandboxSpec& spec) {
  std::pair<int64_t, int> limits = {spec.limits.memory, spec.limits.processes + kServerTasks};
  if (cgroup_ != nullptr && limits != cgroup_limits_) {
    cgroup_limits_ = limits;
    cgroup_->SetLimits(limits.first, limits.second);
  }
  int64_t oom_before = cgroup_ != nullptr ? cgroup_->OomKillCount() : 0;
  COHORT_ASSIGN_OR_RETURN(int request_fd, MemFile("cohort-request", RequestBytes(spec)));
  absl::StatusOr<int> stdin_fd = MemFile("cohort-stdin", spec.stdin_data);
  int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
  if (!stdin_fd.ok() || pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    int err = errno;
    CloseAll({request_fd, stdin_fd.ok() ? *stdin_fd : -1, out_pipe[0], out_pipe[1]});
    return stdin_fd.ok() ? ErrnoToStatus(err, "fork server: pipe") : stdin_fd.status();
  }
  absl::Time start = absl::Now();
  absl::Status sent = SendWithFds(control_, {request_fd, *stdin_fd, out_pipe[1], err_pipe[1]});
  CloseAll({request_fd, *stdin_fd, out_pipe[1], err_pipe[1]});
  if (!sent.ok()) {
    CloseAll({out_pipe[0], err_pipe[0]});
    Kill();
    return sent;
  }
  SpawnOutcome outcome;
  status_line_.clear();
  status_eof_ = false;
  CaptureRequest capture;
  capture.stdout_fd = out_pipe[0];
  capture.stderr_fd = err_pipe[0];
  capture.start = start;
  capture.wall_timeout = spec.limits.wall;
  capture.output_limit = spec.limits.output_limit;
  capture.event_fd = control_;
  capture.on_event = [&](bool* finished) { ReadStatus(finished, &outcome); };
  capture.kill = [this] { Kill(); };
  CaptureOutput(capture, &outcome);
  if (status_eof_) Kill();
  SandboxResult r;
  r.runner = "fork-server";
  r.cgroup = cgroup_ != nullptr ? cgroup_->layout() : "none";
  if (cgroup_ != nullptr) r.memory_exceeded = cgroup_->OomKillCount() > oom_before;
  FillResult(std::move(outcome), spec.limits, &r);
  if (r.exit_code == kSetupFailed && absl::StrContains(r.stderr_data, kSetupPrefix)) {
    Kill();
    return absl::FailedPreconditionError(
        absl::StrCat("fork server: ", r.stderr_data.substr(0, 500)));
  }
  return r;
}

struct ThreadServer {
  std::unique_ptr<ForkServer> server;
};

}  // namespace

absl::Status ForkServerAvailable() {
  static const auto* status = new absl::Status([]() -> absl::Status {
    COHORT_RETURN_IF_ERROR(SandboxAvailable());
    absl::StatusOr<std::unique_ptr<ForkServer>> server = ForkServer::Start(PythonPreload(), Limits());
    if (!server.ok()) return server.status();
    SandboxSpec spec;
    spec.argv = {kPython, "-I", "-S", absl::StrCat(kTaskDir, "/probe.py")};
    spec.files["probe.py"] = "print('ok')\n";
    absl::StatusOr<SandboxResult> r = (*server)->Run(spec);
    if (!r.ok()) return r.status();
    if (!r->Succeeded() || r->stdout_data != "ok\n") {
      return absl::FailedPreconditionError(absl::StrCat(
          "fork server: a trivial program failed: ", r->Describe(), " ", r->stderr_data));
    }
    return absl::OkStatus();
  }());
  return *status;
}

absl::StatusOr<SandboxResult> RunPythonForked(const SandboxSpec& spec,
                                              const PythonPreload& preload) {
  COHORT_RETURN_IF_ERROR(CheckSpec(spec));
  // Set once a server failed to start (no nested user namespaces here):
  // from then on every program gets a bwrap of its own.
  static std::atomic<bool> unavailable{false};
  if (unavailable.load()) return RunSandboxed(spec);
  // One server per thread: bwrap dies with the thread that started it
  // (PR_SET_PDEATHSIG), and a server runs one program at a time.
  thread_local ThreadServer mine;
  std::string key = PreloadKey(preload);
  if (mine.server != nullptr && (!mine.server->alive() || mine.server->key() != key)) {
    mine.server.reset();
  }
  if (mine.server == nullptr) {
    absl::StatusOr<std::unique_ptr<ForkServer>> started = ForkServer::Start(preload, spec.limits);
    if (absl::IsFailedPrecondition(started.status())) {
      unavailable.store(true);
      return RunSandboxed(spec);
    }
    if (!started.ok()) return started.status();
    mine.server = std::move(*started);
  }
  absl::StatusOr<SandboxResult> r = mine.server->Run(spec);
  if (!mine.server->alive()) mine.server.reset();
  return r;
}

}  // namespace cohort::worker::sandbox
