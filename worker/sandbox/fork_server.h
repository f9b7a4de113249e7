// File: fork_server.h
//
// Runs Python programs through a fork server instead of one bwrap and one
// fresh interpreter per program (docs/sandbox.md, "Fork server"). Each
// calling thread owns one server: a bwrap sandbox (user, pid, network,
// mount, ipc, uts, cgroup namespaces, read-only /usr, no host paths) holding
// `python3 -I -S` with the given modules already imported. For each program
// the server forks a child that enters FRESH mount, pid, network (loopback
// only), ipc, uts and cgroup namespaces, mounts a private /tmp, /dev/shm,
// /dev/pts, /proc and a read-only /task holding the program's files, then
// enters a fresh user namespace, drops every capability, sets
// no_new_privs, installs the same seccomp filter as the bwrap runner and the
// same rlimits (CPU, address space, file size, open files, processes), and
// runs the program as the child of its own PID 1. The program's tree is gone
// when its PID 1 exits (the kernel kills the namespace); the wall deadline
// and the output cap are enforced here, and a deadline or a flood kills the
// whole server (a new one starts for the next program). The server's cgroup
// (where writable) carries the memory and task limits.
//
//   SandboxSpec spec;
//   spec.argv = {kPython, "-I", "-S", "/task/main.py"};
//   spec.files["main.py"] = code;
//   COHORT_ASSIGN_OR_RETURN(SandboxResult r, RunPythonForked(spec, {{"json", "re"}}));
//
// Where the server cannot start (no nested user namespaces), programs run
// through RunSandboxed() instead; SandboxResult::runner says which ran.
#ifndef COHORT_WORKER_SANDBOX_FORK_SERVER_H_
#define COHORT_WORKER_SANDBOX_FORK_SERVER_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "worker/sandbox/sandbox.h"

namespace cohort::worker::sandbox {

// What a server imports before it serves (part of its identity: a request
// with a different preload gets a server of its own).
struct PythonPreload {
  std::vector<std::string> modules;  // imported by name ("json", "unittest.mock")
  // Modules built from source, name -> source; importing them must have no
  // side effects (a harness whose main() each program calls).
  std::map<std::string, std::string> sources;
};

// Runs `spec` in this thread's fork server, started on first use (or
// restarted after a kill, or when `preload` differs from its own).
// spec.argv must be {kPython, "-I", "-S", "/task/<file>", args...};
// host_workdir, workdir_writable and ro_paths are not supported here.
absl::StatusOr<SandboxResult> RunPythonForked(const SandboxSpec& spec,
                                              const PythonPreload& preload);

// OK when a fork server starts and runs a program on this machine (cached
// after the first call); else why. RunPythonForked does not call it: it
// falls back to RunSandboxed once a server fails to start.
absl::Status ForkServerAvailable();

// The Python side (fork_server.py), embedded at build time.
const char* ForkServerSource();

}  // namespace cohort::worker::sandbox

#endif  // COHORT_WORKER_SANDBOX_FORK_SERVER_H_
