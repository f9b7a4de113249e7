// File: multipl_e.h
//
// MultiPL-E HumanEval translations (nuprl `humaneval-{rs,java,js}-reworded`
// JSONL; docs/protocol.md 2.11). Problem id: the dataset `name`
// (HumanEval_0_has_close_elements). Prompt `multipl_e_chat_v1`: "Complete
// the following {lang} function. ..." with the prompt in a {lang} fence.
// Extractor `multipl_e_chat_to_body`: the longest ```lang block (else the
// whole text, stripped), cut after the prompt's signature line; for rs and
// java the trailing run of closing braces is removed (the tests close
// them). Program = prompt + body + tests, as nuprl assembles it.
// Execution in the sandbox with the pinned toolchains:
//   rs    rustc /task/main.rs -o /task/main, then /task/main
//   java  javac -encoding UTF8 -cp javatuples.jar, then java -ea
//   js    node /task/main.js
// compile: 60 s CPU; run: 15 s CPU (MultiPL-E's 15 s, as CPU time).
// Statuses OK | SyntaxError (compile failed) | Exception | Timeout |
// TestsNotRun; passed iff OK. Upstream passes a program whose exit code is
// 0, so a completion that exits (process.exit(0), std::process::exit(0),
// System.exit(0)) before the tests would pass; here the tests are followed
// by a line with a per-run marker the program cannot know in advance, and
// OK needs exit 0 and that marker as the last line of stdout (TestsNotRun
// otherwise). A program that reads its own source or binary to find the
// marker is not stopped by this; the marker stops exiting early.
#ifndef COHORT_WORKER_EVAL_MULTIPL_E_H_
#define COHORT_WORKER_EVAL_MULTIPL_E_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "worker/eval/bench.h"

namespace cohort::worker::eval {

inline constexpr char kMultiplEScorerVersion[] = "multipl-e-exec-2";

absl::StatusOr<std::vector<Problem>> LoadMultiplE(const std::string& path,
                                                  const BenchSettings& settings);
Verdict ScoreMultiplE(const Problem& problem, absl::string_view completion,
                      const BenchSettings& settings);

// The body spliced after the prompt (see the file comment); `language` is
// "rs", "java" or "js".
std::string MultiplEChatToBody(const std::string& prompt, absl::string_view completion,
                               const std::string& language, std::string* rule);

// The toolchain a language needs ("rustc", "javac", "node").
std::string MultiplEToolchain(const std::string& language);

}  // namespace cohort::worker::eval

#endif  // COHORT_WORKER_EVAL_MULTIPL_E_H_
