// File: subprocess.h
//
// Runs child processes the way a supervisor must: an argument vector (no
// shell), a chosen environment, captured stdout/stderr with a size cap,
// optional stdin, a wall-clock timeout, and a kill of the child's whole
// process group (SIGTERM, a grace period, then SIGKILL), so that a tool that
// forks helpers leaves nothing behind.
//
//   SubprocessOptions options;
//   options.argv = {"llama-quantize", in, out, "Q6_K"};
//   options.timeout = absl::Hours(2);
//   COHORT_ASSIGN_OR_RETURN(SubprocessResult r, RunSubprocess(options));
//   if (!r.Succeeded()) return absl::InternalError(r.Describe());
//
// For long-lived children (llama-server), Subprocess gives Start / Poll /
// Terminate with the same process-group discipline.
#ifndef COHORT_COMMON_SUBPROCESS_H_
#define COHORT_COMMON_SUBPROCESS_H_

#include <sys/types.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace cohort {

struct SubprocessOptions {
  // argv[0] is looked up on PATH when it has no '/'.
  std::vector<std::string> argv;
  // When set, the child's environment is exactly this; otherwise it inherits
  // ours. `extra_env` is applied on top in both cases.
  std::optional<std::map<std::string, std::string>> env;
  std::map<std::string, std::string> extra_env;
  std::string working_dir;  // empty: ours
  std::string stdin_data;   // written to the child's stdin, then closed
  absl::Duration timeout = absl::InfiniteDuration();
  // Time between SIGTERM and SIGKILL when stopping the process group.
  absl::Duration kill_grace = absl::Seconds(2);
  // Captured bytes kept per stream; the rest is read and dropped.
  size_t output_limit = 16 << 20;
  // When non-empty, the stream goes to this file (appended) instead of being
  // captured: the step log of a long tool run.
  std::string stdout_path;
  std::string stderr_path;
  // Called with each chunk as it arrives (progress parsing), on the calling
  // thread. Runs whether or not the stream is captured.
  std::function<void(absl::string_view)> on_stdout;
  std::function<void(absl::string_view)> on_stderr;
  // The child gets SIGKILL if this process dies (PR_SET_PDEATHSIG).
  bool die_with_parent = true;
  // Polled while the child runs; returning true stops the process group as
  // a timeout would (the result has `cancelled` set).
  std::function<bool()> should_stop;
};

struct SubprocessResult {
  int exit_code = -1;   // valid when term_signal == 0
  int term_signal = 0;  // the signal that ended the child, 0 if it exited
  bool timed_out = false;
  bool cancelled = false;
  std::string stdout_data;
  std::string stderr_data;
  bool stdout_truncated = false;
  bool stderr_truncated = false;
  absl::Duration wall_time;

  bool Succeeded() const {
    return !timed_out && !cancelled && term_signal == 0 && exit_code == 0;
  }
  // "exit code 3", "killed by signal 9", "timed out after 5s", plus the tail
  // of stderr: one line for an error message.
  std::string Describe() const;
};

// Runs the child to completion. Returns an error only when it could not be
// started (kNotFound for a missing program); a failing child is a result.
absl::StatusOr<SubprocessResult> RunSubprocess(const SubprocessOptions& options);

// A long-lived child in its own process group. Not thread-safe; owned by one
// supervising thread. The destructor kills the group if it is still running.
class Subprocess {
 public:
  Subprocess() = default;
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  // Starts the child. Output is captured only to files (stdout_path /
  // stderr_path) or dropped; on_stdout/on_stderr are not used here.
  [[nodiscard]] absl::Status Start(const SubprocessOptions& options);
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0 && !exited_; }
  // Reaps the child if it has exited; returns true once it has.
  bool PollExited();
  // Waits up to `timeout` for exit; true if it exited.
  bool WaitFor(absl::Duration timeout);
  // SIGTERM to the group, `grace`, then SIGKILL; reaps the child.
  void Terminate(absl::Duration grace);
  int exit_code() const { return exit_code_; }
  int term_signal() const { return term_signal_; }

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
  int exit_code_ = -1;
  int term_signal_ = 0;
};

}  // namespace cohort

#endif  // COHORT_COMMON_SUBPROCESS_H_
