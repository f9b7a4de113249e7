// File: run_common.h
//
// Pieces shared by the two runners (sandbox.cc: one bwrap per program;
// fork_server.cc: one bwrap per server, a fork per program). Internal to
// cohort::worker_sandbox.
#ifndef COHORT_WORKER_SANDBOX_RUN_COMMON_H_
#define COHORT_WORKER_SANDBOX_RUN_COMMON_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "worker/sandbox/sandbox.h"
#include "worker/sandbox/spawn.h"

namespace cohort::worker::sandbox {

inline constexpr char kBwrap[] = "/usr/bin/bwrap";
// Exit codes above this are 128 + the signal that ended the program.
inline constexpr int kSignalBase = 128;

// An anonymous in-memory file holding `bytes`, positioned at its start.
absl::StatusOr<int> MemFile(const char* name, const std::string& bytes);

// RLIMIT_CPU's whole seconds (at least 1).
int64_t CpuSeconds(const Limits& limits);

// The environment inside: PATH=/usr/bin, HOME=/tmp, LANG=C.UTF-8,
// TMPDIR=/tmp, then the spec's own entries.
std::map<std::string, std::string> SandboxEnv(const SandboxSpec& spec);

// bwrap's namespace and filesystem options up to (not including) the /task
// mount: fresh namespaces, new session, hostname, read-only /usr with the
// usrmerge symlinks, /proc, /dev, a /tmp tmpfs of `tmp_size` bytes.
std::vector<std::string> BwrapBaseArgs(int64_t tmp_size);

// InvalidArgument unless `name` is relative and has no "..".
absl::Status CheckFileName(const std::string& name);

// The launcher's outcome as a result: exit code or signal (bwrap and the
// fork server report a signal as 128 + signal), CPU limit, output.
void FillResult(SpawnOutcome outcome, const Limits& limits, SandboxResult* r);

}  // namespace cohort::worker::sandbox

#endif  // COHORT_WORKER_SANDBOX_RUN_COMMON_H_
