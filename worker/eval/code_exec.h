// File: code_exec.h
//
// Shared machinery of the code benches (HumanEval, HumanEval+,
// LiveCodeBench, MultiPL-E): running the Python harness
// (code_harness.py, embedded at build time) on one task inside the
// sandbox, turning sandbox outcomes into statuses, and recording which
// toolchain produced each verdict.
//
// The harness (see its head comment) runs as two processes: a judge that
// reads the task from stdin and runs the dataset's tests, and the
// candidate's process, forked before the task is read, which runs the
// model's code and answers calls over a pipe with plain data. The task
// (tests, canonical solutions) never reaches the candidate's process or a
// file it can open; the judge's verdict line carries a per-run secret the
// candidate never sees, so a line it forges is not a verdict. Time limits
// are the candidate's CPU time (read from /proc by the judge), with an
// RLIMIT_CPU backstop, so verdicts do not change with machine load.
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

// Runs the harness on `task` (a JSON object, see code_harness.py) through
// the Python fork server; a non-empty `problem_row` (raw JSON text) is
// spliced in as "problem", so the dataset row reaches Python untouched
// (HumanEval+ inputs hold integers wider than 64 bits, which nlohmann would
// round to doubles). `lcb` preloads what LiveCodeBench's programs import.
HarnessRun RunHarness(nlohmann::json task, absl::string_view problem_row,
                      const sandbox::Limits& limits, bool lcb = false);

// detail fields every code verdict has: toolchain pin, CPU and wall time,
// how the sandbox ended, stderr tail.
void RecordRun(const sandbox::SandboxResult& run, const std::string& toolchain,
               nlohmann::json* detail);

// A failed Verdict saying the toolchain is missing (the bench cannot run).
Verdict ToolchainMissing(const std::string& toolchain);

}  // namespace cohort::worker::eval

#endif  // COHORT_WORKER_EVAL_CODE_EXEC_H_
