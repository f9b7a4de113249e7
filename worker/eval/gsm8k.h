// File: gsm8k.h
//
// GSM8K "flex" (docs/protocol.md 2.3). Data: openai/grade-school-math
// test.jsonl ({question, answer}); the problem id is the 0-based row index.
// Prompt template gsm8k_qa_fewshot_v1: num_fewshot exemplars
// "Question: {q}\nAnswer: {a}\n\n", then "Question: {q}\nAnswer:", all in one
// user message (lm-eval before 0.4.10, or --fewshot_as_multiturn false).
// Prompt template gsm8k_qa_multiturn_v1 (lm-eval >= 0.4.10 with
// --apply_chat_template, which the protocol's pinned 0.4.11 runs): each
// exemplar is a user turn "Question: {q}\nAnswer:" and an assistant turn
// "{a}" (Problem::history), then the user message "Question: {q}\nAnswer:".
// The exemplars are drawn from the train split (settings'
// fewshot_path, else train.jsonl beside the test file) exactly as lm-eval's
// default sampler draws them: Python's random.Random(1234).sample(train, n),
// one call per test row in row order (py_random.h); meta.fewshot_rows keeps
// the train rows chosen. No train split with num_fewshot > 0 is an error
// (kFailedPrecondition), never a silent zero-shot run.
// Extractor gsm8k_flexible: the last match of (-?[$0-9.,]{2,})|(-?[0-9]+);
// scoring is lm-eval's exact_match with ignore_case after deleting ",", "$",
// everything through the last "#### " and a final "." from both sides.
#ifndef COHORT_WORKER_EVAL_GSM8K_H_
#define COHORT_WORKER_EVAL_GSM8K_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "worker/eval/bench.h"

namespace cohort::worker::eval {

inline constexpr char kGsm8kScorerVersion[] = "gsm8k_flexible/1";

struct Gsm8kExemplar {
  std::string question;
  std::string answer;
};

absl::StatusOr<std::vector<Problem>> LoadGsm8k(const std::string& path,
                                               const BenchSettings& settings);

std::string BuildGsm8kPrompt(absl::string_view question,
                             const std::vector<Gsm8kExemplar>& shots);

// The exemplars as user/assistant turns (gsm8k_qa_multiturn_v1).
std::vector<ChatTurn> BuildGsm8kTurns(const std::vector<Gsm8kExemplar>& shots);

// flexible-extract: the last number-like match, stripped; "" when none.
std::string ExtractGsm8kFlexible(absl::string_view text);

// lm-eval's exact_match normalisation for gsm8k (regexes, then lower-case).
std::string NormalizeGsm8k(absl::string_view text);

Verdict ScoreGsm8k(const Problem& problem, absl::string_view completion,
                   const BenchSettings& settings);

}  // namespace cohort::worker::eval

#endif  // COHORT_WORKER_EVAL_GSM8K_H_
