// File: aime.h
//
// AIME (docs/protocol.md 2.5). Data: QwenLM's aime24 test.jsonl ({id, problem,
// answer, ...}) or omk's aime_100.jsonl ({id, Problem, Answer, ...}); keys
// are matched ignoring case, as the reference does. The problem id is the
// file's id. Prompt template aime_qa_v1: "Question: {problem}\nAnswer:".
// Extractors (first tier that yields a number wins):
//   aime_omk_5tier (card era)   tiers 1, 3, 4, 5, 6
//   aime_omk_6tier (HEAD)       tiers 1-6
//   1 last \boxed{...}, keeping only digits and +/-
//   2 last line-anchored "Answer: N" (optionally **bold**, "final")
//   3 last "final answer / answer is / answer:" + "boxe[d]{N" (the literal
//     "boxe" is required, by design upstream)
//   4 on the last line, "is|equals|= N" at the line end
//   5 the last "= N" anywhere
//   6 the last integer in the last 400 characters
// Gold is str(int(answer)); the extracted text must equal it as a string,
// as in omk's process_results ("025" and "+25" fail; detail.integer_match
// records whether the integer value was right).
#ifndef COHORT_WORKER_EVAL_AIME_H_
#define COHORT_WORKER_EVAL_AIME_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "worker/eval/bench.h"

namespace cohort::worker::eval {

inline constexpr char kAimeScorerVersion[] = "aime_omk/2";

absl::StatusOr<std::vector<Problem>> LoadAime(const std::string& path,
                                              const BenchSettings& settings);

std::string BuildAimePrompt(absl::string_view problem);

// The extracted number text, or "" when no tier fires. `six_tier` selects
// the HEAD cascade. `rule` gets "tier1_boxed" ... "tier6_tail" or "none".
std::string ExtractAimeAnswer(absl::string_view text, bool six_tier,
                              std::string* rule);

Verdict ScoreAime(const Problem& problem, absl::string_view completion,
                  const BenchSettings& settings);

}  // namespace cohort::worker::eval

#endif  // COHORT_WORKER_EVAL_AIME_H_
