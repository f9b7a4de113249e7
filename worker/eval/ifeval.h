// File: ifeval.h
//
// IFEval (docs/protocol.md 2.6). Data: google-research
// instruction_following_eval input_data.jsonl ({key, prompt,
// instruction_id_list, kwargs}); the problem id is `key`. Prompt template
// ifeval_raw_v1: the prompt text unchanged. Extractor ifeval_v1: the whole
// response is checked against every instruction:
//   strict  the response, stripped, is non-empty and follows it;
//   loose   any of 8 variants does (the response; with every "*" removed;
//           without its first line; without its last line; without both;
//           and the last three with "*" removed), each non-empty stripped.
// A prompt passes (Verdict::passed) when every instruction passes strictly.
// Verdict::detail holds {"instructions": [...], "strict": [...], "loose":
// [...]} for the prompt- and instruction-level summary metrics.
#ifndef COHORT_WORKER_EVAL_IFEVAL_H_
#define COHORT_WORKER_EVAL_IFEVAL_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "worker/eval/bench.h"

namespace cohort::worker::eval {

inline constexpr char kIfevalScorerVersion[] = "ifeval_v1/2";

absl::StatusOr<std::vector<Problem>> LoadIfeval(const std::string& path,
                                                const BenchSettings& settings);

// The 8 loose-mode variants of a response, in upstream order.
std::vector<std::string> IfevalLooseVariants(absl::string_view response);

Verdict ScoreIfeval(const Problem& problem, absl::string_view completion,
                    const BenchSettings& settings);

}  // namespace cohort::worker::eval

#endif  // COHORT_WORKER_EVAL_IFEVAL_H_
