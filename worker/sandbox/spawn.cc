#include "worker/sandbox/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/errno_status.h"

namespace cohort::worker::sandbox {
namespace {

// Everything the child touches, prepared before fork(): after fork in a
// multi-threaded process only async-signal-safe calls are allowed.
struct ChildPlan {
  std::vector<char*> argv;
  std::vector<char*> envp;
  std::vector<const char*> cgroup_procs;
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  std::vector<int> extra_fds;
  pid_t parent = 0;
};

void WriteDecimal(int fd, pid_t value) {
  char digits[24];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value > 0);
  char text[24];
  for (int i = 0; i < n; ++i) text[i] = digits[n - 1 - i];
  (void)!write(fd, text, n);
}

void MoveFd(int from, int to) {
  if (from == to) {
    fcntl(to, F_SETFD, 0);  // keep it across exec
  } else {
    dup2(from, to);  // dup2 clears close-on-exec on the copy
  }
}

[[noreturn]] void RunChild(const ChildPlan& plan, int error_pipe) {
  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != plan.parent) _exit(127);
  for (const char* procs : plan.cgroup_procs) {
    int fd = open(procs, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      WriteDecimal(fd, getpid());
      close(fd);
    }
  }
  sigset_t empty;
  sigemptyset(&empty);
  sigprocmask(SIG_SETMASK, &empty, nullptr);
  for (int sig = 1; sig < NSIG; ++sig) signal(sig, SIG_DFL);
  // The error pipe and the extra descriptors must survive the shuffle
  // below: park them high first.
  int err_fd = fcntl(error_pipe, F_DUPFD_CLOEXEC, 200);
  int parked[8];
  int extra_count = static_cast<int>(std::min<size_t>(plan.extra_fds.size(), 8));
  for (int i = 0; i < extra_count; ++i) {
    parked[i] = fcntl(plan.extra_fds[i], F_DUPFD_CLOEXEC, 100);
  }
  MoveFd(plan.stdin_fd, STDIN_FILENO);
  MoveFd(plan.stdout_fd, STDOUT_FILENO);
  MoveFd(plan.stderr_fd, STDERR_FILENO);
  for (int i = 0; i < extra_count; ++i) MoveFd(parked[i], kExtraFd + i);
  int first_closed = kExtraFd + extra_count;
  // Close everything inherited except err_fd (close-on-exec anyway).
  if (err_fd > first_closed) syscall(SYS_close_range, first_closed, err_fd - 1, 0);
  syscall(SYS_close_range, err_fd + 1, ~0U, 0);
  execve(plan.argv[0], plan.argv.data(), plan.envp.data());
  int err = errno;
  (void)!write(err_fd, &err, sizeof(err));
  _exit(127);
}

struct Capture {
  int fd = -1;
  std::string* data = nullptr;
  bool* truncated = nullptr;
  size_t dropped = 0;
};

// Reads what is available; false once the stream is at EOF.
bool Drain(Capture& c, size_t limit) {
  char buffer[65536];
  ssize_t n = read(c.fd, buffer, sizeof(buffer));
  if (n < 0) return errno == EINTR || errno == EAGAIN;
  if (n == 0) return false;
  size_t keep = std::min<size_t>(n, limit - std::min(limit, c.data->size()));
  c.data->append(buffer, keep);
  if (keep < static_cast<size_t>(n)) {
    *c.truncated = true;
    c.dropped += n - keep;
  }
  return true;
}

absl::StatusOr<pid_t> Fork(ChildPlan& plan, const SpawnRequest& request) {
  int error_pipe[2];
  if (pipe2(error_pipe, O_CLOEXEC) != 0) return ErrnoToStatus(errno, "sandbox: pipe");
  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close(error_pipe[0]);
    close(error_pipe[1]);
    return ErrnoToStatus(err, "sandbox: fork");
  }
  if (pid == 0) RunChild(plan, error_pipe[1]);
  setpgid(pid, pid);
  close(error_pipe[1]);
  int child_errno = 0;
  ssize_t n;
  do {
    n = read(error_pipe[0], &child_errno, sizeof(child_errno));
  } while (n < 0 && errno == EINTR);
  close(error_pipe[0]);
  if (n > 0) {
    waitpid(pid, nullptr, 0);
    return ErrnoToStatus(child_errno, absl::StrCat("sandbox: exec ", request.argv[0]));
  }
  return pid;
}

// The child's exit, through a pidfd: reaps it with its resource usage.
struct ChildExit {
  pid_t pid;
  SpawnOutcome* outcome;
  void Reap(bool* finished) {
    rusage usage{};
    int rc;
    while ((rc = wait4(pid, &outcome->wait_status, 0, &usage)) < 0 && errno == EINTR) {
    }
    outcome->cpu_time = absl::DurationFromTimeval(usage.ru_utime) +
                        absl::DurationFromTimeval(usage.ru_stime);
    *finished = true;
  }
};

}  // namespace

absl::StatusOr<pid_t> Spawn(const SpawnRequest& request, int stdout_fd, int stderr_fd) {
  if (request.argv.empty()) return absl::InvalidArgumentError("sandbox: empty argv");
  if (request.extra_fds.size() > 8) return absl::InvalidArgumentError("sandbox: too many fds");
  std::vector<std::string> argv = request.argv;
  std::vector<std::string> env = request.env;
  ChildPlan plan;
  for (std::string& a : argv) plan.argv.push_back(a.data());
  plan.argv.push_back(nullptr);
  for (std::string& e : env) plan.envp.push_back(e.data());
  plan.envp.push_back(nullptr);
  for (const std::string& p : request.cgroup_procs) plan.cgroup_procs.push_back(p.c_str());
  plan.parent = getpid();
  plan.extra_fds = request.extra_fds;
  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0) return ErrnoToStatus(errno, "sandbox: /dev/null");
  plan.stdin_fd = request.stdin_fd >= 0 ? request.stdin_fd : null_fd;
  plan.stdout_fd = stdout_fd;
  plan.stderr_fd = stderr_fd;
  absl::StatusOr<pid_t> pid = Fork(plan, request);
  close(null_fd);
  return pid;
}

void CaptureOutput(const CaptureRequest& request, SpawnOutcome* outcome) {
  Capture captures[2] = {{request.stdout_fd, &outcome->stdout_data, &outcome->stdout_truncated, 0},
                         {request.stderr_fd, &outcome->stderr_data, &outcome->stderr_truncated, 0}};
  absl::Time deadline = request.start + request.wall_timeout;
  bool killed = false;
  bool finished = false;
  auto kill_all = [&] {
    if (killed) return;
    killed = true;
    request.kill();
  };
  // Pipes close when the last process holding them is gone; the event fd
  // says when the program itself has ended. Both are needed: a program
  // that closes its output and keeps running is still under the deadline.
  while (captures[0].fd >= 0 || captures[1].fd >= 0 || !finished) {
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration() && !killed) {
      outcome->timed_out = true;
      kill_all();
    }
    pollfd fds[3];
    int count = 0;
    for (Capture& c : captures) {
      if (c.fd >= 0) fds[count++] = {c.fd, POLLIN, 0};
    }
    if (!finished) fds[count++] = {request.event_fd, POLLIN, 0};
    int wait_ms = killed ? 100 : static_cast<int>(std::min<int64_t>(
                                     100, absl::ToInt64Milliseconds(left) + 1));
    int rc = poll(fds, count, std::max(wait_ms, 1));
    if (rc < 0 && errno != EINTR) break;
    for (int i = 0; i < count; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == request.event_fd && !finished) {
        request.on_event(&finished);
        continue;
      }
      for (Capture& c : captures) {
        if (c.fd != fds[i].fd) continue;
        if (!Drain(c, request.output_limit)) {
          close(c.fd);
          c.fd = -1;
        } else if (c.dropped > request.discard_limit && !killed) {
          outcome->flooded = true;
          kill_all();
        }
      }
    }
  }
  for (Capture& c : captures) {
    if (c.fd >= 0) close(c.fd);
  }
  outcome->wall_time = absl::Now() - request.start;
}

absl::StatusOr<SpawnOutcome> SpawnAndWait(const SpawnRequest& request) {
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return ErrnoToStatus(errno, "sandbox: pipe");
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    int err = errno;
    close(out_pipe[0]), close(out_pipe[1]);
    return ErrnoToStatus(err, "sandbox: pipe");
  }
  absl::Time start = absl::Now();
  absl::StatusOr<pid_t> pid = Spawn(request, out_pipe[1], err_pipe[1]);
  close(out_pipe[1]), close(err_pipe[1]);
  int pidfd = pid.ok() ? static_cast<int>(syscall(SYS_pidfd_open, *pid, 0)) : -1;
  if (!pid.ok() || pidfd < 0) {
    int err = errno;
    close(out_pipe[0]), close(err_pipe[0]);
    if (!pid.ok()) return pid.status();
    kill(-*pid, SIGKILL);
    waitpid(*pid, nullptr, 0);
    return ErrnoToStatus(err, "sandbox: pidfd_open");
  }
  SpawnOutcome outcome;
  ChildExit child{*pid, &outcome};
  CaptureRequest capture;
  capture.stdout_fd = out_pipe[0];
  capture.stderr_fd = err_pipe[0];
  capture.start = start;
  capture.wall_timeout = request.wall_timeout;
  capture.output_limit = request.output_limit;
  capture.discard_limit = request.discard_limit;
  capture.event_fd = pidfd;
  capture.on_event = [&child](bool* finished) { child.Reap(finished); };
  capture.kill = [&] {
    kill(-*pid, SIGKILL);
    if (request.on_kill) request.on_kill();
  };
  CaptureOutput(capture, &outcome);
  close(pidfd);
  return outcome;
}

}  // namespace cohort::worker::sandbox
