#include "tests/integration/worker_process.h"

#include <signal.h>

#include "absl/strings/str_join.h"
#include "tests/integration/cohortd_process.h"

namespace cohort::testing {

absl::Status MakeSweepInputs(const std::string& dir) {
  const std::string worker = BinDir() + "/cohort-worker";
  for (std::vector<std::string> argv :
       {std::vector<std::string>{worker, "synth-model", "--layout", "qwen3moe", "--experts", "16",
                                 "--output-dir", "model"},
        {worker, "synth-contrib", "--layers", "4", "--experts", "16", "--output",
         "contrib.json"}}) {
    SubprocessOptions options;
    options.argv = argv;
    options.working_dir = dir;
    absl::StatusOr<SubprocessResult> r = RunSubprocess(options);
    if (!r.ok()) return r.status();
    if (!r->Succeeded()) return absl::InternalError(r->Describe());
  }
  return absl::OkStatus();
}

absl::Status WorkerProcess::Start() {
  SubprocessOptions options;
  options.argv = {BinDir() + "/cohort-worker", "run",
                  "--coordinator", spec_.coordinator,
                  "--token-file", spec_.token_file,
                  "--state-dir", spec_.state_dir,
                  "--worker-id", spec_.id,
                  "--slots", std::to_string(spec_.slots),
                  "--llama-cpp-dir", COHORT_FAKES_DIR,
                  "--drain-seconds", "5",
                  "--shared-root", "/",
                  "--gpus", std::to_string(spec_.gpus)};
  if (!spec_.labels.empty()) {
    options.argv.push_back("--labels");
    options.argv.push_back(absl::StrJoin(spec_.labels, ","));
  }
  options.argv.insert(options.argv.end(), spec_.extra_flags.begin(), spec_.extra_flags.end());
  options.extra_env = spec_.env;
  options.stderr_path = LogPath();
  options.stdout_path = LogPath();
  return process_.Start(options);
}

void WorkerProcess::Kill9() {
  if (!process_.running()) return;
  kill(process_.pid(), SIGKILL);
  process_.WaitFor(absl::Seconds(10));
}

void WorkerProcess::Terminate() { process_.Terminate(absl::Seconds(20)); }

}  // namespace cohort::testing
