// File: gpqa.h
//
// GPQA Diamond "flex" (docs/protocol.md 2.2). No data ships with
// cohort: the user decrypts the release and points --dataset at
// gpqa_diamond.csv (columns Question, Correct Answer, Incorrect Answer 1-3,
// Record ID, ...); a JSONL export with the same keys is read too. The
// problem id is Record ID (else the row index).
// Option order: cohort's own, not lm-eval's: the four preprocessed answers
// [incorrect 1, 2, 3, correct] are shuffled by Fisher-Yates driven by
// splitmix64(option_seed ^ fnv1a64(problem id)), and the order is stored
// in the problem (meta.order), so it is fixed per question and seed.
// Prompt template gpqa_cot_zeroshot_v1 (lm-eval gpqa_diamond_cot_zeroshot).
// Extractor gpqa_flexible (lm-eval multi_choice_regex): the last "(X)";
// else the last choice text found in the normalised response; else the last
// ":\s*[A-D]"; compared ignoring case and punctuation.
#ifndef COHORT_WORKER_EVAL_GPQA_H_
#define COHORT_WORKER_EVAL_GPQA_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "worker/eval/bench.h"

namespace cohort::worker::eval {

inline constexpr char kGpqaScorerVersion[] = "gpqa_flexible/2";

absl::StatusOr<std::vector<Problem>> LoadGpqa(const std::string& path,
                                               const BenchSettings& settings);

// lm-eval's preprocess(): strip, " [title]" -> ". ", drop [..], "  " -> " ".
std::string PreprocessGpqaText(absl::string_view text);

// The permutation: order[i] is the source slot (0-2 incorrect 1-3, 3 the
// correct answer) shown as option letter 'A' + i.
std::array<int, 4> GpqaOptionOrder(uint64_t seed, absl::string_view problem_id);

std::string BuildGpqaPrompt(absl::string_view question,
                            const std::array<std::string, 4>& options);

// "(A)".."(Z)" or "[invalid]"; `rule` gets "paren_letter", "choice_text",
// "colon_letter" or "none".
std::string ExtractGpqaFlexible(absl::string_view text,
                                const std::vector<std::string>& options,
                                std::string* rule);

Verdict ScoreGpqa(const Problem& problem, absl::string_view completion,
                  const BenchSettings& settings);

}  // namespace cohort::worker::eval

#endif  // COHORT_WORKER_EVAL_GPQA_H_
