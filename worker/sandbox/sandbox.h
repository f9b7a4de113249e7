// File: sandbox.h
//
// Runs one untrusted program (model-written code, a compiler, a test
// binary) in isolation. Every run gets fresh namespaces from bubblewrap
// (user, pid, network with only a down loopback, mount, ipc, uts, cgroup),
// all capabilities dropped, a new session, a seccomp filter
// (seccomp_filter.h), rlimits applied inside by util-linux prlimit (CPU
// seconds, address space, file size, open files, processes, no core
// files), a per-run cgroup for memory and task count where one is writable
// (cgroup.h), a wall deadline, capped output, and the whole tree killed at
// the end (PID-namespace teardown plus the cgroup). The root filesystem is
// /usr (read-only, with the usrmerge symlinks), the read-only paths the
// caller names, /proc, a minimal /dev, a private size-limited tmpfs at
// /tmp, and a host work folder at /task (read-only unless asked). No host
// environment variable, home or network reaches the program.
//
//   SandboxSpec spec;
//   spec.argv = {"/usr/bin/python3", "/task/main.py"};
//   spec.files["main.py"] = code;
//   spec.limits.cpu = absl::Seconds(3);
//   COHORT_ASSIGN_OR_RETURN(SandboxResult r, RunSandboxed(spec));
//   if (r.Succeeded()) ...
//
// Thread-safe: any number of runs may proceed concurrently.
#ifndef COHORT_WORKER_SANDBOX_SANDBOX_H_
#define COHORT_WORKER_SANDBOX_SANDBOX_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cohort::worker::sandbox {

// Where the run's files (SandboxSpec::files, host_workdir) appear inside.
inline constexpr char kTaskDir[] = "/task";

struct Limits {
  // RLIMIT_CPU, rounded up to whole seconds (the kernel's unit): SIGXCPU at
  // the soft limit, SIGKILL one second later. Verdicts that depend on CPU
  // time do not change when the machine is loaded.
  absl::Duration cpu = absl::Seconds(10);
  absl::Duration wall = absl::Seconds(30);  // deadline for the whole tree
  int64_t address_space = int64_t{4} << 30;  // RLIMIT_AS per process; 0: none
  int64_t memory = int64_t{4} << 30;  // cgroup limit for the tree; 0: none
  int64_t file_size = int64_t{64} << 20;   // RLIMIT_FSIZE
  int open_files = 256;                    // RLIMIT_NOFILE
  int processes = 64;   // RLIMIT_NPROC (tasks, threads included) and pids.max
  size_t output_limit = 1 << 20;  // bytes of stdout and of stderr kept
  int64_t tmp_size = int64_t{256} << 20;  // size of the /tmp tmpfs
};

struct SandboxSpec {
  std::vector<std::string> argv;  // argv[0]: an absolute path inside
  // Written into the work folder before the run (name -> bytes; names may
  // contain '/' for sub-folders).
  std::map<std::string, std::string> files;
  // A host folder to use as /task (kept after the run, so a second run can
  // see what a first wrote: compile, then execute). Empty: a fresh folder,
  // removed afterwards.
  std::string host_workdir;
  bool workdir_writable = false;
  std::string cwd = "/tmp";  // working directory inside
  // On top of PATH=/usr/bin, HOME=/tmp, LANG=C.UTF-8, TMPDIR=/tmp.
  std::map<std::string, std::string> env;
  std::string stdin_data;
  // Host paths bound read-only at the same place (e.g. a JDK's /etc files).
  std::vector<std::string> ro_paths;
  Limits limits;
};

struct SandboxResult {
  int exit_code = -1;   // valid when term_signal == 0
  int term_signal = 0;  // the signal that ended the program
  bool timed_out = false;      // wall deadline reached
  bool cpu_exceeded = false;   // killed by the CPU limit
  bool memory_exceeded = false;  // the cgroup's OOM killer fired
  bool output_flooded = false;   // killed for endless output
  std::string stdout_data;
  std::string stderr_data;
  bool stdout_truncated = false;
  bool stderr_truncated = false;
  absl::Duration wall_time;
  absl::Duration cpu_time;
  std::string cgroup;  // "v1", "v2" or "none": what bounded the tree
  std::string runner = "bwrap";  // "bwrap" (one per run) or "fork-server"

  bool Succeeded() const {
    return !timed_out && !cpu_exceeded && term_signal == 0 && exit_code == 0;
  }
  // "exit code 1", "killed by signal 9", "CPU limit", "wall deadline".
  std::string Describe() const;
};

// Runs `spec`. An error only when the sandbox itself could not be set up
// (bwrap or prlimit missing, namespaces refused); a failing program is a
// result.
absl::StatusOr<SandboxResult> RunSandboxed(const SandboxSpec& spec);

// OK when bwrap and prlimit exist and a trivial sandboxed program runs; the
// error says what is missing. Cached after the first call.
absl::Status SandboxAvailable();

}  // namespace cohort::worker::sandbox

#endif  // COHORT_WORKER_SANDBOX_SANDBOX_H_
