// File: ifeval_checkers.h
//
// The 25 registered IFEval instructions (google-research
// instruction_following_eval, as ported by lm-eval; docs/protocol.md 2.6 lists
// the rules). Each checker answers "does this response follow the instruction
// with these kwargs"; strict/loose variants and the empty-response rule are
// applied by the caller (ifeval.h).
#ifndef COHORT_WORKER_EVAL_IFEVAL_CHECKERS_H_
#define COHORT_WORKER_EVAL_IFEVAL_CHECKERS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace cohort::worker::eval {

// The 25 instruction ids, e.g. "punctuation:no_comma".
const std::vector<std::string>& IfevalInstructionIds();

// kInvalidArgument when `id` is unknown or `kwargs` lacks a required key or
// has one of the wrong type or value (relations must be "less than" or "at
// least"). Null values count as absent (the HF copy writes every key).
absl::Status ValidateIfevalInstruction(const std::string& id,
                                       const nlohmann::json& kwargs);

// True when `response` follows instruction `id`. Requires a validated
// (id, kwargs) pair; anything else returns false.
bool FollowsIfevalInstruction(const std::string& id, const nlohmann::json& kwargs,
                              absl::string_view response);

}  // namespace cohort::worker::eval

#endif  // COHORT_WORKER_EVAL_IFEVAL_CHECKERS_H_
