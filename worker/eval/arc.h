// File: arc.h
//
// ARC-Challenge, chat form (docs/protocol.md 2.1). Data: the AI2 release
// ARC-Challenge-Test.jsonl ({id, question{stem, choices[{text,label}]},
// answerKey}); the problem id is the AI2 id. Prompt templates arc_chat_v1
// (line breaks) and arc_chat_omk_v2 (omk's text as sent: each line break is
// the two characters backslash and n, from a single-quoted YAML string);
// extractor arc_chat_omk (omk utils_chat.py; tiers 1-2 case-insensitive):
//   1. the last "best answer is / answer is / final answer: / answer:" + letter
//   2. the last \boxed{X}
//   3. the last standalone upper-case A-D in the last 400 characters
// Gold is answerKey with 1-4 mapped to A-D. Only A-D are shown (trap T25).
#ifndef COHORT_WORKER_EVAL_ARC_H_
#define COHORT_WORKER_EVAL_ARC_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "worker/eval/bench.h"

namespace cohort::worker::eval {

inline constexpr char kArcScorerVersion[] = "arc_chat_omk/2";

absl::StatusOr<std::vector<Problem>> LoadArc(const std::string& path,
                                             const BenchSettings& settings);

// The user message for a stem and its choice texts.
// `newline` separates the lines: "\n" for arc_chat_v1, the two characters
// backslash and n for arc_chat_omk_v2 (what omk's YAML sent).
std::string BuildArcPrompt(absl::string_view stem, const std::vector<std::string>& choices,
                           absl::string_view newline = "\n");

// The upper-case letter A-D, or "" when no tier matches; `rule` gets
// "answer_phrase", "boxed", "tail_letter" or "none".
std::string ExtractArcLetter(absl::string_view text, std::string* rule);

Verdict ScoreArc(const Problem& problem, absl::string_view completion,
                 const BenchSettings& settings);

}  // namespace cohort::worker::eval

#endif  // COHORT_WORKER_EVAL_ARC_H_
