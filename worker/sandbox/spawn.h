// File: spawn.h
//
// The low-level launcher under the sandbox: fork + exec of one program (in
// practice bwrap) with a clean environment, stdin from a file descriptor,
// stdout/stderr captured through pipes with a byte cap, one extra
// descriptor handed to the child as fd 3 (bwrap's --seccomp input), the
// child placed into cgroups before exec, SIGKILL when this process dies,
// and a wall-clock deadline after which the child's process group is
// killed. Every other descriptor is closed in the child, so concurrent
// launches from other threads never leak pipes into a sandbox.
//
// common/subprocess.h is not used here because the sandbox needs the
// pre-exec steps above (cgroup join, fd 3, closing inherited descriptors),
// which it has no hook for.
#ifndef COHORT_WORKER_SANDBOX_SPAWN_H_
#define COHORT_WORKER_SANDBOX_SPAWN_H_

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
  int extra_fd = -1;              // becomes kExtraFd in the child; -1: none
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

}  // namespace cohort::worker::sandbox

#endif  // COHORT_WORKER_SANDBOX_SPAWN_H_
