// File: humaneval.h
//
// HumanEval (openai/human-eval HumanEval.jsonl.gz, 164 problems) and
// HumanEval+ (evalplus HumanEvalPlus.jsonl.gz v0.1.10), executed in the
// sandbox (docs/benches.md "Code benches").
//
// Prompt `humaneval_chat_omk_v1` (docs/protocol.md 2.7). Extractor
// `extract_chat_omk`: the omk chat filter (last fenced block that parses
// and defines a real function; else parse-trim; else the raw text), run in
// the harness with Python's own ast. A plain body continuation (human-eval
// samples) falls through to the raw text, so program = prompt + completion
// as in human-eval.
//
// HumanEval: program = prompt + candidate + "\n" + test + "\ncheck(entry)",
// exec'd in a fresh interpreter with a 3 s CPU limit; "passed" / "failed:
// <exception>" / "timed out".
// HumanEval+: evalplus differential testing. The ground truth (prompt +
// canonical_solution) runs on every base and plus input first, timing each
// in CPU seconds; the candidate then gets max(4 s, 4 x ground truth) per
// input and min(60 s, sum) + 1 per phase; outputs compare with ==, else
// (atol, or 1e-6 for floats) type, length and allclose(rtol 1e-7); the
// find_zero oracle |poly(x)| <= atol. Pass = base and plus both pass.
#ifndef COHORT_WORKER_EVAL_HUMANEVAL_H_
#define COHORT_WORKER_EVAL_HUMANEVAL_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "worker/eval/bench.h"

namespace cohort::worker::eval {

inline constexpr char kHumanEvalScorerVersion[] = "humaneval-exec-2";
inline constexpr char kHumanEvalPlusScorerVersion[] = "humanevalplus-evalplus-2";

// Rows keep the dataset line verbatim in meta["row"] for the harness.
absl::StatusOr<std::vector<Problem>> LoadHumanEval(const std::string& path,
                                                   const BenchSettings& settings);
Verdict ScoreHumanEval(const Problem& problem, absl::string_view completion,
                       const BenchSettings& settings);

absl::StatusOr<std::vector<Problem>> LoadHumanEvalPlus(const std::string& path,
                                                       const BenchSettings& settings);
Verdict ScoreHumanEvalPlus(const Problem& problem, absl::string_view completion,
                           const BenchSettings& settings);

// Every non-blank line of a (gzipped) JSONL file, verbatim, in order.
absl::StatusOr<std::vector<std::string>> ReadRawLines(const std::string& path);

}  // namespace cohort::worker::eval

#endif  // COHORT_WORKER_EVAL_HUMANEVAL_H_
