// File: result.h
//
// What scoring produces: one ProblemResult per scored completion (the
// summary over them is summary.h's).
#ifndef COHORT_WORKER_EVAL_RESULT_H_
#define COHORT_WORKER_EVAL_RESULT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "worker/eval/bench.h"

namespace cohort::worker::eval {

// What a model answered to one problem. The generation journal's record
// (llama::GenerationRecord), a completions row read for scoring
// (CompletionRow) and a scored result (ProblemResult) are each an Answer
// and what their stage adds, so an answer moves from one to the next as one
// value (a copy of the Answer part), not field by field.
struct Answer {
  std::string completion;     // answer channel (message.content)
  std::string reasoning;      // reasoning channel (reasoning_content)
  std::string finish_reason;  // "stop", "length", ...; "error" when the request failed
  // The server's counts: completion_tokens covers reasoning + answer.
  std::optional<int64_t> completion_tokens;
  std::optional<int64_t> reasoning_tokens;
  // A server error instead of an answer (the request failed for good): its
  // kind ("500 peg-native format") and the server's message. Such an answer
  // is never passed, and not a wrong answer either (verdict error).
  std::string error_kind;
  std::string error_message;
  bool server_error() const { return !error_kind.empty(); }
};

struct ProblemResult : Answer {
  std::string id;
  int index = 0;
  std::string prompt_digest;   // sha256 hex of the rendered prompt
  std::string scored_channel;  // "content", "reasoning" (Fix-A) or "empty"
  int64_t completion_chars = 0;  // code points of the scored text
  int64_t reasoning_chars = 0;
  std::string extracted;
  std::string rule;
  bool passed = false;
  bool at_budget = false;      // saturation (see SaturationBasis)
  std::string scorer_version;
  nlohmann::json detail = nlohmann::json::object();
};

// The text a scorer sees (protocol Fix-A, docs/protocol.md 1.6): content when
// it is a non-empty string (Python truthiness: white space counts), else
// reasoning; never both concatenated.
std::string ScoredText(const std::string& completion, const std::string& reasoning,
                       std::string* channel);

// Decides at_budget: reasoning_tokens >= threshold when the bench thinks and
// the row has reasoning tokens; else completion_tokens >= threshold; and
// always when finish_reason is "length".
bool AtBudget(const ProblemResult& r, const BenchSettings& settings);

// One JSONL row of --out.
nlohmann::json ResultToJson(const ProblemResult& r);
// That row as its line of text (no newline; invalid UTF-8 replaced by
// U+FFFD, so the line is always valid JSON).
std::string ResultToLine(const ProblemResult& r);
// A row of --out read back, the inverse of ResultToJson (the worker reads
// the rows its score subcommand wrote: this struct is the one worker-side
// result row; the proto is made from it only where it is sent).
// kInvalidArgument naming the field: no id, or a field of the wrong type.
absl::StatusOr<ProblemResult> ResultFromJson(const nlohmann::json& row);

}  // namespace cohort::worker::eval

#endif  // COHORT_WORKER_EVAL_RESULT_H_
