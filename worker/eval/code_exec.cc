#include "worker/eval/code_exec.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/canonical_json.h"
#include "common/random.h"
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
  preload.modules = {"ast",      "bisect", "builtins",   "collections", "copy",  "ctypes",
                     "datetime", "decimal", "functools", "heapq",     "io",    "itertools",
                     "json",     "math",    "operator",  "random",    "re",    "select",
                     "statistics", "string", "struct",   "types",     "typing"};
  if (lcb) preload.modules.push_back("unittest.mock");
  preload.sources[kHarnessModule] = CodeHarnessSource();
  return preload;
}

std::string Tail(const std::string& text, size_t n) {
  return text.size() <= n ? text : text.substr(text.size() - n);
}

}  // namespace

HarnessRun RunHarness(nlohmann::json task, absl::string_view problem_row,
                      const sandbox::Limits& limits, bool lcb) {
  HarnessRun run;
  const std::string secret = SecureRandomHex(16);
  task["secret"] = secret;
  std::string task_json = task.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (!problem_row.empty()) {
    task_json.pop_back();  // the closing brace
    absl::StrAppend(&task_json, ",\"problem\":", problem_row, "}");
  }
  sandbox::SandboxSpec spec;
  spec.argv = {sandbox::kPython, "-I", "-S", absl::StrCat(sandbox::kTaskDir, "/harness.py")};
  spec.files["harness.py"] = kHarnessMain;
  spec.files[absl::StrCat(kHarnessModule, ".py")] = CodeHarnessSource();
  spec.stdin_data = std::move(task_json);
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
  // The verdict is the line that starts with the secret; anything else on
  // stdout is not the judge's.
  const std::string prefix = absl::StrCat(secret, " ");
  for (absl::string_view line : absl::StrSplit(r->stdout_data, '\n')) {
    if (!absl::ConsumePrefix(&line, prefix)) continue;
    nlohmann::json parsed = ParseJsonOrDiscarded(line);
    if (parsed.is_object() && parsed.contains("status")) {
      run.ok = true;
      run.result = std::move(parsed);
      return run;
    }
  }
  run.failure = r->Describe();
  return run;
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
