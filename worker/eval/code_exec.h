// File: code_exec.h
//
// Shared machinery of the code benches (HumanEval, HumanEval+,
// LiveCodeBench, MultiPL-E): running the Python harness
// (code_harness.py, embedded at build time) on one task inside the
// sandbox, turning sandbox outcomes into statuses, and recording which
// toolchain produced each verdict.
//
// The harness reads /task/task.json, runs the candidate in the same
// interpreter process (one process per problem and sample, never shared:
// a fresh fork of a fork server, sandbox/fork_server.h), and
// prints one JSON result line on its saved stdout; the candidate's own
// output goes to /dev/null. Time limits inside the harness are CPU-time
// (ITIMER_PROF), and the process has an RLIMIT_CPU backstop, so verdicts do
// not change with machine load. A verdict's integrity assumes the code is
// not written to forge the harness's result (the sandbox protects the host,
// not the grade); the reference harnesses share that assumption.
#ifndef COHORT_WORKER_EVAL_CODE_EXEC_H_
#define COHORT_WORKER_EVAL_CODE_EXEC_H_

#include <string>

#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "worker/eval/bench.h"
#include "worker/sandbox/sandbox.h"

namespace cohort::worker::eval {

// The harness source (code_harness.py).
const char* CodeHarnessSource();

struct HarnessRun {
  bool ok = false;          // the harness printed a result
  nlohmann::json result;    // its JSON result when ok
  std::string failure;      // else why: "CPU limit", "sandbox: ..." ...
  bool timed_out = false;   // killed by the CPU limit or the deadline
  sandbox::SandboxResult sandbox;
};

// Runs the harness on `task` (a JSON object text, see code_harness.py)
// through the Python fork server; `lcb` preloads what LiveCodeBench's
// programs import.
HarnessRun RunHarness(const std::string& task_json, const sandbox::Limits& limits,
                      bool lcb = false);

// `task` (an object) with the raw JSON `row` spliced in as "problem": the
// dataset row reaches Python untouched (HumanEval+ inputs hold integers
// wider than 64 bits, which nlohmann would round to doubles).
std::string SpliceProblem(const nlohmann::json& task, absl::string_view row);

// detail fields every code verdict has: toolchain pin, CPU and wall time,
// how the sandbox ended, stderr tail.
void RecordRun(const sandbox::SandboxResult& run, const std::string& toolchain,
               nlohmann::json* detail);

// A failed Verdict saying the toolchain is missing (the bench cannot run).
Verdict ToolchainMissing(const std::string& toolchain);

}  // namespace cohort::worker::eval

#endif  // COHORT_WORKER_EVAL_CODE_EXEC_H_
