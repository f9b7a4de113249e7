#include "common/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/errno_status.h"

extern char** environ;

namespace cohort {
namespace {

constexpr absl::Duration kPollInterval = absl::Milliseconds(20);

void IgnoreSigpipeOnce() {
  // Writing to a child that closed its stdin must be an error, not our death.
  static const bool done = [] {
    signal(SIGPIPE, SIG_IGN);
    return true;
  }();
  (void)done;
}

// Everything the child needs, prepared before fork() so that the child only
// makes async-signal-safe calls.
struct ChildPlan {
  std::vector<std::string> env_storage;
  std::vector<char*> argv;
  std::vector<char*> envp;
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  const char* working_dir = nullptr;
  bool die_with_parent = true;
  pid_t parent = 0;
};

void BuildEnvironment(const SubprocessOptions& options, ChildPlan& plan) {
  std::map<std::string, std::string> env;
  if (options.env.has_value()) {
    env = *options.env;
  } else {
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      const char* eq = std::strchr(*e, '=');
      if (eq == nullptr) continue;
      env[std::string(*e, eq - *e)] = std::string(eq + 1);
    }
  }
  for (const auto& [key, value] : options.extra_env) env[key] = value;
  for (const auto& [key, value] : env) {
    plan.env_storage.push_back(absl::StrCat(key, "=", value));
  }
  for (std::string& s : plan.env_storage) plan.envp.push_back(s.data());
  plan.envp.push_back(nullptr);
}

[[noreturn]] void RunChild(const ChildPlan& plan, int error_pipe) {
  setpgid(0, 0);
  if (plan.die_with_parent) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != plan.parent) _exit(127);
  }
  sigset_t empty;
  sigemptyset(&empty);
  sigprocmask(SIG_SETMASK, &empty, nullptr);
  signal(SIGPIPE, SIG_DFL);
  if (plan.stdin_fd >= 0) dup2(plan.stdin_fd, STDIN_FILENO);
  if (plan.stdout_fd >= 0) dup2(plan.stdout_fd, STDOUT_FILENO);
  if (plan.stderr_fd >= 0) dup2(plan.stderr_fd, STDERR_FILENO);
  if (plan.working_dir != nullptr && chdir(plan.working_dir) != 0) {
    int err = errno;
    (void)!write(error_pipe, &err, sizeof(err));
    _exit(127);
  }
  execvpe(plan.argv[0], plan.argv.data(), plan.envp.data());
  int err = errno;
  (void)!write(error_pipe, &err, sizeof(err));
  _exit(127);
}

int OpenDevNull(int flags) { return open("/dev/null", flags | O_CLOEXEC); }

int OpenLogFile(const std::string& path) {
  return open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

// Forks and execs; returns the child's pid once exec has succeeded.
absl::StatusOr<pid_t> Spawn(const SubprocessOptions& options, ChildPlan& plan) {
  if (options.argv.empty() || options.argv[0].empty()) {
    return absl::InvalidArgumentError("subprocess: empty argument vector");
  }
  std::vector<std::string> argv_storage = options.argv;
  for (std::string& a : argv_storage) plan.argv.push_back(a.data());
  plan.argv.push_back(nullptr);
  BuildEnvironment(options, plan);
  plan.working_dir =
      options.working_dir.empty() ? nullptr : options.working_dir.c_str();
  plan.die_with_parent = options.die_with_parent;
  plan.parent = getpid();

  int error_pipe[2];
  if (pipe2(error_pipe, O_CLOEXEC) != 0) {
    return ErrnoToStatus(errno, "subprocess: pipe");
  }
  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close(error_pipe[0]);
    close(error_pipe[1]);
    return ErrnoToStatus(err, absl::StrCat("starting ", options.argv[0]));
  }
  if (pid == 0) {
    close(error_pipe[0]);
    RunChild(plan, error_pipe[1]);
  }
  setpgid(pid, pid);  // also in the child: whichever runs first wins the race
  close(error_pipe[1]);
  int child_errno = 0;
  ssize_t n;
  do {
    n = read(error_pipe[0], &child_errno, sizeof(child_errno));
  } while (n < 0 && errno == EINTR);
  close(error_pipe[0]);
  if (n > 0) {
    waitpid(pid, nullptr, 0);
    return ErrnoToStatus(child_errno, absl::StrCat("starting ", options.argv[0]));
  }
  return pid;
}

// Sets exit_code / term_signal from a waitpid status.
void DecodeWaitStatus(int status, int& exit_code, int& term_signal) {
  if (WIFEXITED(status)) {
    exit_code = WEXITSTATUS(status);
    term_signal = 0;
  } else if (WIFSIGNALED(status)) {
    exit_code = -1;
    term_signal = WTERMSIG(status);
  }
}

// True if `pid` has exited; does not reap it, so its pid (and process group
// id) cannot be reused while we still signal the group.
bool HasExited(pid_t pid) {
  siginfo_t info;
  std::memset(&info, 0, sizeof(info));
  int rc = waitid(P_PID, static_cast<id_t>(pid), &info,
                  WEXITED | WNOHANG | WNOWAIT);
  return rc == 0 && info.si_pid == pid;
}

// Kills what is left of the group, then reaps the leader.
void ReapGroup(pid_t pid, int& exit_code, int& term_signal) {
  kill(-pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  DecodeWaitStatus(status, exit_code, term_signal);
}

struct Stream {
  int fd = -1;
  std::string* sink = nullptr;
  bool* truncated = nullptr;
  const std::function<void(absl::string_view)>* callback = nullptr;
};

void ReadAvailable(Stream& stream, size_t limit) {
  char buffer[65536];
  ssize_t n = read(stream.fd, buffer, sizeof(buffer));
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) {
    close(stream.fd);
    stream.fd = -1;
    return;
  }
  absl::string_view chunk(buffer, static_cast<size_t>(n));
  if (stream.callback != nullptr && *stream.callback) (*stream.callback)(chunk);
  size_t room = limit > stream.sink->size() ? limit - stream.sink->size() : 0;
  if (chunk.size() > room) *stream.truncated = true;
  stream.sink->append(chunk.data(), std::min(room, chunk.size()));
}

}  // namespace

std::string SubprocessResult::Describe() const {
  std::string what;
  if (timed_out) {
    what = absl::StrCat("timed out after ", absl::FormatDuration(wall_time));
  } else if (cancelled) {
    what = "cancelled";
  } else if (term_signal != 0) {
    what = absl::StrCat("killed by signal ", term_signal, " (",
                        strsignal(term_signal), ")");
  } else {
    what = absl::StrCat("exit code ", exit_code);
  }
  constexpr size_t kTail = 2000;
  absl::string_view err = stderr_data;
  if (err.size() > kTail) err = err.substr(err.size() - kTail);
  if (!err.empty()) absl::StrAppend(&what, "; stderr: ", err);
  return what;
}

absl::StatusOr<SubprocessResult> RunSubprocess(
    const SubprocessOptions& options) {
  IgnoreSigpipeOnce();
  SubprocessResult result;
  int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
  auto close_all = [&] {
    for (int fd : {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1],
                   err_pipe[0], err_pipe[1]}) {
      if (fd >= 0) close(fd);
    }
  };
  ChildPlan plan;
  bool feed_stdin = !options.stdin_data.empty();
  if ((feed_stdin && pipe2(in_pipe, O_CLOEXEC) != 0) ||
      (options.stdout_path.empty() && pipe2(out_pipe, O_CLOEXEC) != 0) ||
      (options.stderr_path.empty() && pipe2(err_pipe, O_CLOEXEC) != 0)) {
    absl::Status status = ErrnoToStatus(errno, "subprocess: pipe");
    close_all();
    return status;
  }
  plan.stdin_fd = feed_stdin ? in_pipe[0] : OpenDevNull(O_RDONLY);
  plan.stdout_fd = options.stdout_path.empty() ? out_pipe[1]
                                               : OpenLogFile(options.stdout_path);
  plan.stderr_fd = options.stderr_path.empty() ? err_pipe[1]
                                               : OpenLogFile(options.stderr_path);
  if (plan.stdout_fd < 0 || plan.stderr_fd < 0) {
    absl::Status status = ErrnoToStatus(errno, "subprocess: opening log file");
    close_all();
    return status;
  }
  absl::Time start = absl::Now();
  absl::StatusOr<pid_t> spawned = Spawn(options, plan);
  // Our copies of the child's ends.
  if (!feed_stdin) close(plan.stdin_fd);
  if (!options.stdout_path.empty()) close(plan.stdout_fd);
  if (!options.stderr_path.empty()) close(plan.stderr_fd);
  for (int* fd : {&in_pipe[0], &out_pipe[1], &err_pipe[1]}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
  if (!spawned.ok()) {
    close_all();
    return spawned.status();
  }
  pid_t pid = *spawned;

  Stream out{out_pipe[0], &result.stdout_data, &result.stdout_truncated,
             &options.on_stdout};
  Stream err{err_pipe[0], &result.stderr_data, &result.stderr_truncated,
             &options.on_stderr};
  out_pipe[0] = err_pipe[0] = -1;
  int stdin_fd = feed_stdin ? in_pipe[1] : -1;
  in_pipe[1] = -1;
  if (stdin_fd >= 0) fcntl(stdin_fd, F_SETFL, O_NONBLOCK);
  size_t stdin_written = 0;

  absl::Time deadline = options.timeout == absl::InfiniteDuration()
                            ? absl::InfiniteFuture()
                            : start + options.timeout;
  absl::Time term_sent = absl::InfiniteFuture();
  bool exited = false;
  while (!exited || out.fd >= 0 || err.fd >= 0) {
    if (!exited && HasExited(pid)) {
      // Helpers the child left behind would hold our pipes open forever.
      ReapGroup(pid, result.exit_code, result.term_signal);
      exited = true;
      if (stdin_fd >= 0) close(stdin_fd), stdin_fd = -1;
      continue;
    }
    absl::Time now = absl::Now();
    if (!exited && term_sent == absl::InfiniteFuture()) {
      if (now >= deadline) {
        result.timed_out = true;
      } else if (options.should_stop && options.should_stop()) {
        result.cancelled = true;
      }
      if (result.timed_out || result.cancelled) {
        kill(-pid, SIGTERM);
        term_sent = now;
      }
    }
    if (!exited && now >= term_sent + options.kill_grace) kill(-pid, SIGKILL);

    pollfd fds[3];
    int count = 0;
    for (Stream* s : {&out, &err}) {
      if (s->fd >= 0) fds[count++] = {s->fd, POLLIN, 0};
    }
    if (stdin_fd >= 0) fds[count++] = {stdin_fd, POLLOUT, 0};
    int wait_ms = static_cast<int>(absl::ToInt64Milliseconds(kPollInterval));
    int rc = poll(fds, count, exited ? 200 : wait_ms);
    if (rc < 0 && errno != EINTR) break;
    for (int i = 0; i < count; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == stdin_fd) {
        ssize_t n = write(stdin_fd, options.stdin_data.data() + stdin_written,
                          options.stdin_data.size() - stdin_written);
        if (n > 0) stdin_written += static_cast<size_t>(n);
        if ((n < 0 && errno != EAGAIN && errno != EINTR) ||
            stdin_written == options.stdin_data.size()) {
          close(stdin_fd);
          stdin_fd = -1;
        }
      } else {
        Stream& s = fds[i].fd == out.fd ? out : err;
        ReadAvailable(s, options.output_limit);
      }
    }
  }
  if (stdin_fd >= 0) close(stdin_fd);
  if (out.fd >= 0) close(out.fd);
  if (err.fd >= 0) close(err.fd);
  result.wall_time = absl::Now() - start;
  return result;
}

Subprocess::~Subprocess() {
  if (running()) Terminate(absl::ZeroDuration());
}

absl::Status Subprocess::Start(const SubprocessOptions& options) {
  IgnoreSigpipeOnce();
  if (running()) return absl::FailedPreconditionError("subprocess already running");
  ChildPlan plan;
  plan.stdin_fd = OpenDevNull(O_RDONLY);
  plan.stdout_fd = options.stdout_path.empty() ? OpenDevNull(O_WRONLY)
                                               : OpenLogFile(options.stdout_path);
  plan.stderr_fd = options.stderr_path.empty() ? OpenDevNull(O_WRONLY)
                                               : OpenLogFile(options.stderr_path);
  absl::StatusOr<pid_t> spawned =
      (plan.stdout_fd < 0 || plan.stderr_fd < 0)
          ? absl::StatusOr<pid_t>(ErrnoToStatus(errno, "opening log file"))
          : Spawn(options, plan);
  for (int fd : {plan.stdin_fd, plan.stdout_fd, plan.stderr_fd}) {
    if (fd >= 0) close(fd);
  }
  if (!spawned.ok()) return spawned.status();
  pid_ = *spawned;
  exited_ = false;
  exit_code_ = -1;
  term_signal_ = 0;
  return absl::OkStatus();
}

bool Subprocess::PollExited() {
  if (pid_ <= 0) return true;
  if (exited_) return true;
  if (!HasExited(pid_)) return false;
  ReapGroup(pid_, exit_code_, term_signal_);
  exited_ = true;
  return true;
}

bool Subprocess::WaitFor(absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (!PollExited()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(kPollInterval);
  }
  return true;
}

void Subprocess::Terminate(absl::Duration grace) {
  if (!running()) return;
  kill(-pid_, SIGTERM);
  if (!WaitFor(grace)) {
    kill(-pid_, SIGKILL);
    WaitFor(absl::InfiniteDuration());
  }
}

}  // namespace cohort
