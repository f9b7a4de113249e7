// File: executor.h
//
// How a worker runs one step, whatever its kind (ninja's CommandRunner idea):
// the agent resolves the step's inputs to local paths, gives the executor a
// fresh output folder, and gets back the named output folders it should
// adopt into the artifact store and report. Executors know nothing of gRPC,
// leases or the coordinator, so they are tested alone (tool_executor_test.cc,
// with the llama.cpp fakes of tests/fakes standing in for the tools).
//
//   StepTask task{kind, key, params_json, {{"checkpoint", dir}}, out, log};
//   COHORT_ASSIGN_OR_RETURN(StepResult result, executor.Execute(task));
//   for (auto& [name, folder] : result.outputs) ... adopt ...
//
// Error codes say whether to retry (docs/steps.md): kInvalidArgument /
// kFailedPrecondition (bad input, a verification mismatch) are final;
// kUnavailable / kInternal (a tool crashed, the disk hiccuped) are retried;
// kCancelled when should_stop fired.
#ifndef COHORT_WORKER_EXEC_EXECUTOR_H_
#define COHORT_WORKER_EXEC_EXECUTOR_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "worker/eval/result.h"

namespace cohort::worker {

// Numerically the cohort.v1.StepKind values.
enum class TaskKind : int {
  kDropmap = 1,
  kPrune = 2,
  kUpweight = 3,
  kConvert = 4,
  kImatrix = 5,
  kQuantize = 6,
  kGenerate = 7,
  kScore = 8,
  kGate = 9,
  kReport = 10,
  kQuantmap = 11,
};

struct TaskProgress {
  uint64_t done = 0;
  uint64_t total = 0;
  uint64_t passed = 0;
  std::string unit;
  std::string message;
};

struct StepTask {
  TaskKind kind = TaskKind::kDropmap;
  std::string key;
  std::string params_json = "{}";
  std::map<std::string, std::string> inputs;  // name -> local file or folder
  std::string output_root;  // empty folder; outputs go to <root>/<name>/
  // Kept across attempts of the same step on this worker (a generate step's
  // journal lives here, so a restarted worker resumes it); may be empty.
  std::string work_dir;
  std::string log_path;     // the step's log (tool stdout/stderr)
  // CUDA_VISIBLE_DEVICES for the step's tools: the worker's GPUs this step
  // holds ("" when it holds none, so it cannot use a card another step
  // holds); nullopt on a worker that offers no GPUs (the environment stays).
  std::optional<std::string> visible_gpus;
  std::function<bool()> should_stop;
  std::function<void(const TaskProgress&)> on_progress;
  // Each scored problem of a score step, as the eval core made it (the one
  // worker-side result row; the agent makes the proto from it).
  std::function<void(const eval::ProblemResult&)> on_result;
};

struct StepResult {
  std::vector<std::pair<std::string, std::string>> outputs;  // name -> folder
  bool gate_failed = false;
  std::string gate_reason;
  // What the step measured of its outputs, a JSON object kept with the step
  // (CompleteStepRequest.facts_json); empty when nothing.
  std::string facts_json = {};
};

// Thread-safe implementations may run several tasks at once.
class StepExecutor {
 public:
  virtual ~StepExecutor() = default;
  virtual absl::StatusOr<StepResult> Execute(const StepTask& task) = 0;
};

}  // namespace cohort::worker

#endif  // COHORT_WORKER_EXEC_EXECUTOR_H_
