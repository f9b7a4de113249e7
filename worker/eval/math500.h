// File: math500.h
//
// MATH-500 (docs/protocol.md 2.4). Data: prm800k math_splits/test.jsonl
// ({problem, solution, answer, subject, level, unique_id}); the problem id
// is unique_id. Prompt template minerva_math500_zeroshot_v1:
// "Problem:\n{problem}\n\nSolution:". Extractor math_equiv_v1: the answer of
// ExtractMathAnswer (math_answer.h), compared with the dataset's `answer`
// by MathAnswersEquivalent. The reference protocol scores with math_verify
// against the boxed answer of `solution`; docs/benches.md lists the
// differences.
#ifndef COHORT_WORKER_EVAL_MATH500_H_
#define COHORT_WORKER_EVAL_MATH500_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "worker/eval/bench.h"

namespace cohort::worker::eval {

inline constexpr char kMath500ScorerVersion[] = "math_verify/1";

absl::StatusOr<std::vector<Problem>> LoadMath500(const std::string& path,
                                                 const BenchSettings& settings);

std::string BuildMath500Prompt(absl::string_view problem);

Verdict ScoreMath500(const Problem& problem, absl::string_view completion,
                     const BenchSettings& settings);

}  // namespace cohort::worker::eval

#endif  // COHORT_WORKER_EVAL_MATH500_H_
