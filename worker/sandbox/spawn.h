// File: spawn.h
//
// The low-level launcher under the sandbox: fork + exec of one program (in
// practice bwrap) with a clean environment, stdin from a file descriptor,
// stdout/stderr captured through pipes with a byte cap, extra descriptors
// handed to the child as fd 3, 4, ... (bwrap's --seccomp input, a fork
// server's control socket), the child placed into cgroups before exec,
// SIGKILL when the launching thread dies, and a wall-clock deadline after
// which the child's process group is killed. Every other descriptor is
// closed in the child, so concurrent launches from other threads never leak
// pipes into a sandbox.
//
// common/subprocess.h is not used here because the sandbox needs the
// pre-exec steps above (cgroup join, fd 3, closing inherited descriptors),
// which it has no hook for.
#ifndef COHORT_WORKER_SANDBOX_SPAWN_H_
#define COHORT_WORKER_SANDBOX_SPAWN_H_

#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cohort::worker::sandbox {

inline constexpr int kExtraFd = 3;

struct SpawnRequest {
  std::vector<std::string> argv;  // argv[0] is an absolute path
  std::vector<std::string> env;   // "KEY=VALUE", the whole environment
  int stdin_fd = -1;              // -1: /dev/null
  std::vector<int> extra_fds;     // become kExtraFd, kExtraFd + 1, ... in the child
  std::vector<std::string> cgroup_procs;  // cgroup.procs files to join
  absl::Duration wall_timeout = absl::Seconds(30);
  size_t output_limit = 1 << 20;  // bytes kept per stream
  // Output beyond output_limit is read and dropped; past this many dropped
  // bytes per stream the child is killed (an endless flood).
  size_t discard_limit = 64 << 20;
  // Called once when the deadline or the flood limit kills the child, so
  // the caller can also kill its cgroup.
  std::function<void()> on_kill;
};

struct SpawnOutcome {
  int wait_status = 0;  // as from waitpid
  bool timed_out = false;
  bool flooded = false;
  std::string stdout_data;
  std::string stderr_data;
  bool stdout_truncated = false;
  bool stderr_truncated = false;
  absl::Duration wall_time;
  absl::Duration cpu_time;  // user+sys of the child and its reaped children
};

// Runs the request to completion. An error only when the child could not be
// started (fork/exec failure); a failing child is an outcome.
absl::StatusOr<SpawnOutcome> SpawnAndWait(const SpawnRequest& request);

// Starts the request's program (its own process group) with the given
// stdout/stderr and returns its pid; the caller waits for it. wall_timeout,
// output_limit, discard_limit and on_kill are not used.
absl::StatusOr<pid_t> Spawn(const SpawnRequest& request, int stdout_fd, int stderr_fd);

// Collects a program's two output streams until both reach EOF and
// `finished` is set, enforcing the deadline and the flood limit. `event_fd`
// (e.g. a pidfd or a control socket) is polled too; `on_event` is called
// when it is readable and sets `finished` once the program has ended (the
// fd is no longer polled after that). `kill` ends everything (called at
// most once, on the deadline or a flood); it must make the streams reach
// EOF and `on_event` finish. Returns with timed_out/flooded, the captured
// data and wall_time filled in.
struct CaptureRequest {
  int stdout_fd = -1;
  int stderr_fd = -1;
  absl::Time start;
  absl::Duration wall_timeout;
  size_t output_limit = 1 << 20;
  size_t discard_limit = 64 << 20;
  int event_fd = -1;
  std::function<void(bool* finished)> on_event;
  std::function<void()> kill;
};
void CaptureOutput(const CaptureRequest& request, SpawnOutcome* outcome);

}  // namespace cohort::worker::sandbox

#endif  // COHORT_WORKER_SANDBOX_SPAWN_H_
