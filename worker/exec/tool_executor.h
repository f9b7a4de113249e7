// File: tool_executor.h
//
// The production StepExecutor: dropmap, prune (with fused upweight),
// upweight and gate run through this binary's own offline subcommands (a
// child process per step: its log is the step log, a crash cannot take the
// worker down, and cancellation kills it); convert, imatrix and quantize run
// llama.cpp's tools, and every GGUF they write is verified (architecture,
// expert count, file type) before it is reported.
#ifndef COHORT_WORKER_EXEC_TOOL_EXECUTOR_H_
#define COHORT_WORKER_EXEC_TOOL_EXECUTOR_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "worker/exec/executor.h"

namespace cohort::worker {

struct ToolConfig {
  std::string self_binary;    // this cohort-worker (for the offline cores)
  std::string llama_cpp_dir;  // holds convert_hf_to_gguf.py and the tools
  std::string python = "/usr/bin/python3";
  absl::Duration step_timeout = absl::Hours(48);
  // Set when the converter's Python failed its start-up probe
  // (converter_probe.h): convert steps are refused with this message.
  std::string converter_problem;
  // OpenAI-compatible servers this worker may send a campaign's requests
  // to (`run --endpoint URL`), offered as the tool "endpoint:URL"; a
  // generate step naming any other URL is refused, so a campaign cannot
  // point a worker at an address its operator did not list.
  std::vector<std::string> endpoints;
  std::string endpoint_key_file;  // their API key (`run --endpoint-key-file`)
  // vLLM for generate steps that serve a checkpoint folder with it
  // (params.vllm; `run --vllm PATH`), offered as the tool "vllm". Empty:
  // such steps go to other workers.
  std::string vllm;
};

// Reads a tool's progress from one line of its output: llama-quantize's
// "[  12/ 363] blk.0.attn_q.weight ..." gives 12 of 363 tensors. Returns
// false when the line says nothing about progress.
bool ParseToolProgress(absl::string_view line, TaskProgress* progress);

// Where a llama.cpp tool is: <dir>/<name>, <dir>/bin/<name>,
// <dir>/build/bin/<name>, then PATH. Empty when not found.
std::string FindLlamaTool(const std::string& llama_cpp_dir,
                          const std::string& name);

// The tools this worker can run, for its capabilities ("llama-quantize",
// "llama-imatrix", "llama-server", "convert_hf_to_gguf.py").
std::vector<std::string> AvailableTools(const ToolConfig& config);

class ToolExecutor final : public StepExecutor {
 public:
  explicit ToolExecutor(ToolConfig config) : config_(std::move(config)) {}
  // On failure the output root is emptied again (a tool's partial output,
  // e.g. half a GGUF on a full disk, takes no space and is never adopted).
  // A tool that failed for want of disk space gives kResourceExhausted
  // (retried), its message starting "no space left on device".
  absl::StatusOr<StepResult> Execute(const StepTask& task) override;

 private:
  absl::StatusOr<StepResult> Dispatch(const StepTask& task);
  absl::StatusOr<StepResult> DispatchCatching(const StepTask& task);
  absl::StatusOr<StepResult> Dropmap(const StepTask& task);
  absl::StatusOr<StepResult> Prune(const StepTask& task);
  absl::StatusOr<StepResult> Upweight(const StepTask& task);
  absl::StatusOr<StepResult> Convert(const StepTask& task);
  absl::StatusOr<StepResult> Imatrix(const StepTask& task);
  absl::StatusOr<StepResult> Quantmap(const StepTask& task);
  absl::StatusOr<StepResult> Quantize(const StepTask& task);
  absl::StatusOr<StepResult> Gate(const StepTask& task);
  absl::StatusOr<StepResult> Generate(const StepTask& task);
  absl::StatusOr<StepResult> Score(const StepTask& task);
  // {self_binary, subcommand, flags...}: this cohort-worker running one of
  // its subcommands, from worker/invocation's typed struct for it.
  template <typename Invocation>
  std::vector<std::string> SelfCommand(const Invocation& invocation) const {
    std::vector<std::string> argv = {config_.self_binary, Invocation::kName};
    for (std::string& flag : invocation.ToArgv()) argv.push_back(std::move(flag));
    return argv;
  }
  // Runs argv with the step's log, timeout and cancellation. With
  // `stdout_capture`, stdout is kept there instead of going to the log.
  absl::Status RunTool(const StepTask& task, std::vector<std::string> argv,
                       const std::string& working_dir = "",
                       std::string* stdout_capture = nullptr);

  ToolConfig config_;
};

}  // namespace cohort::worker

#endif  // COHORT_WORKER_EXEC_TOOL_EXECUTOR_H_
