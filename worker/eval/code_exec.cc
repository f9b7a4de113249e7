#include "worker/eval/code_exec.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/canonical_json.h"
#include "worker/sandbox/fork_server.h"
#include "worker/sandbox/toolchains.h"

namespace cohort::worker::eval {
namespace {

constexpr char kHarnessModule[] = "cohort_harness";
// The program the sandbox runs: the harness module is already imported in
// a fork server (the /task copy serves the bwrap fallback).
constexpr char kHarnessMain[] =
    "import sys\nsys.path.insert(0, '/task')\nimport cohort_harness\ncohort_harness.main()\n";

// Imported once by each fork server, so a program's fork finds them
// loaded: the harness itself and its imports, what LiveCodeBench's preamble
// and stdin emulation import (unittest.mock only for LiveCodeBench: it is
// the slowest to import), and typing (HumanEval prompts import it).
sandbox::PythonPreload HarnessPreload(bool lcb) {
  sandbox::PythonPreload preload;
  preload.modules = {"ast",  "bisect", "collections", "copy",   "datetime", "decimal",
                     "functools", "heapq", "io", "itertools", "json", "math", "operator",
                     "random", "re", "statistics", "string", "typing"};
  if (lcb) preload.modules.push_back("unittest.mock");
  preload.sources[kHarnessModule] = CodeHarnessSource();
  return preload;
}

std::string Tail(const std::string& text, size_t n) {
  return text.size() <= n ? text : text.substr(text.size() - n);
}

}  // namespace

HarnessRun RunHarness(const std::string& task_json, const sandbox::Limits& limits, bool lcb) {
  HarnessRun run;
  sandbox::SandboxSpec spec;
  spec.argv = {sandbox::kPython, "-I", "-S", absl::StrCat(sandbox::kTaskDir, "/harness.py")};
  spec.files["harness.py"] = kHarnessMain;
  spec.files[absl::StrCat(kHarnessModule, ".py")] = CodeHarnessSource();
  spec.files["task.json"] = task_json;
  spec.env["PYTHONHASHSEED"] = "0";
  spec.env["OMP_NUM_THREADS"] = "1";
  spec.limits = limits;
  absl::StatusOr<sandbox::SandboxResult> r = sandbox::RunPythonForked(spec, HarnessPreload(lcb));
  if (!r.ok()) {
    run.failure = absl::StrCat("sandbox: ", r.status().message());
    return run;
  }
  run.sandbox = *r;
  run.timed_out = r->cpu_exceeded || r->timed_out;
  // The result is the last line the harness printed.
  std::vector<absl::string_view> lines =
      absl::StrSplit(absl::StripTrailingAsciiWhitespace(r->stdout_data), '\n');
  if (!lines.empty() && !lines.back().empty()) {
    nlohmann::json parsed = ParseJsonOrDiscarded(lines.back());
    if (parsed.is_object() && parsed.contains("status")) {
      run.ok = true;
      run.result = std::move(parsed);
      return run;
    }
  }
  run.failure = r->Describe();
  return run;
}

std::string SpliceProblem(const nlohmann::json& task, absl::string_view row) {
  std::string text = task.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  text.pop_back();  // the closing brace
  absl::StrAppend(&text, task.empty() ? "" : ",", "\"problem\":", row, "}");
  return text;
}

void RecordRun(const sandbox::SandboxResult& run, const std::string& toolchain,
               nlohmann::json* detail) {
  (*detail)["toolchain"] = sandbox::ToolchainPin(sandbox::FindToolchain(toolchain));
  (*detail)["cpu_s"] = absl::ToDoubleSeconds(run.cpu_time);
  (*detail)["wall_s"] = absl::ToDoubleSeconds(run.wall_time);
  (*detail)["sandbox_end"] = run.Describe();
  (*detail)["cgroup"] = run.cgroup;
  (*detail)["sandbox_runner"] = run.runner;
  if (!run.stderr_data.empty()) (*detail)["stderr_tail"] = Tail(run.stderr_data, 1000);
}

Verdict ToolchainMissing(const std::string& toolchain) {
  Verdict v;
  v.rule = "none";
  v.detail["status"] = "toolchain_missing";
  v.detail["toolchain"] = toolchain;
  return v;
}

}  // namespace cohort::worker::eval
