// File: bench.h
//
// The vocabulary every bench shares: a Problem (one dataset row with its
// rendered prompt and reference answer), a Verdict (what the extractor
// found and whether it scores), and a BenchSpec tying a bench's loader and
// scorer together. Loaders read the published file in its published schema
// and return every row (the run takes the profile's first-N subset with
// ApplyLimit; offline rescoring accepts any row of the file). Scorers are total
// functions: any completion text, even invalid UTF-8 or megabytes of noise,
// yields a Verdict; they never fail and never crash.
#ifndef COHORT_WORKER_EVAL_BENCH_H_
#define COHORT_WORKER_EVAL_BENCH_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "worker/eval/profile.h"

namespace cohort::worker::eval {

// One chat message before the problem's own user message.
struct ChatTurn {
  std::string role;     // "user" or "assistant"
  std::string content;
};

struct Problem {
  std::string id;       // the dataset's own id, or the 0-based row index
  int index = 0;        // 0-based row in the published file (lm-eval doc_id)
  std::string prompt;   // the rendered (last) user message
  // Turns sent before `prompt`: few-shot exemplars as user/assistant pairs
  // (lm-eval >= 0.4.10 with --apply_chat_template); empty for one message.
  std::vector<ChatTurn> history;
  std::string gold;     // the reference answer, as the scorer compares it
  // Where a scorer reads its gold from a longer text: MATH-500 under
  // math_verify parses the worked solution, as lm-eval does. Else empty.
  std::string gold_source;
  nlohmann::json meta = nlohmann::json::object();  // bench-specific data
};

struct Verdict {
  bool passed = false;
  std::string extracted;  // the extracted answer; "" when nothing was found
  std::string rule;       // which extraction rule fired ("none" if none)
  nlohmann::json detail = nlohmann::json::object();  // bench-specific
};

using LoadFn = absl::StatusOr<std::vector<Problem>> (*)(
    const std::string& path, const BenchSettings& settings);
using ScoreFn = Verdict (*)(const Problem& problem, absl::string_view completion,
                            const BenchSettings& settings);

struct BenchSpec {
  const char* name;            // "gsm8k", the profile key and CLI name
  const char* scorer_version;  // bumped whenever a verdict could change
  LoadFn load;
  ScoreFn score;
  // Code benches execute each completion in the sandbox: scored on the
  // parallel pool (worker/sandbox/pool.h) instead of one at a time.
  bool runs_code;
};

// Every message of the problem's request: the history, then the user prompt.
std::vector<ChatTurn> ChatMessages(const Problem& problem);

// The request's messages as lm-eval's local-chat-completions logs them
// (arguments[0] of the request, the text its prompt_hash hashes): Python's
// json.dumps([{"role": r, "content": c, "type": "text"}, ...],
// ensure_ascii=False).
std::string LmEvalChatJson(const Problem& problem);

// sha256 hex of LmEvalChatJson: lm-eval's prompt_hash for the problem, and
// the prompt digest of every generated and scored row.
std::string PromptDigest(const Problem& problem);

// Python's json.dumps of a str (ensure_ascii=False): the quoted string.
std::string PyJsonString(absl::string_view text);

// All registered benches, in a fixed order.
const std::vector<BenchSpec>& AllBenches();

// nullptr for an unknown name.
const BenchSpec* FindBench(absl::string_view name);

// A bench with a profile's settings for it, as every command that runs or
// rescores one starts.
struct BenchSetup {
  const BenchSpec* bench = nullptr;
  Profile profile;
  BenchSettings settings;  // the profile's, with fewshot_path set
};

// Finds `bench` and `profile` (a built-in name or a file) and the profile's
// settings for the bench. kInvalidArgument naming the known benches for an
// unknown one, or saying the profile has no settings for it; the profile's
// own load errors as they are.
absl::StatusOr<BenchSetup> SetUpBench(const std::string& bench, const std::string& profile,
                                      const std::string& fewshot_path);

// Applies settings.limit (first N; 0 keeps all).
void ApplyLimit(const BenchSettings& settings, std::vector<Problem>* problems);

// kInvalidArgument naming the template/extractor id when `id` is not one of
// `known` (so a profile cannot name a template the code lacks).
absl::Status CheckId(const char* what, const std::string& id,
                     const std::vector<std::string>& known);

}  // namespace cohort::worker::eval

#endif  // COHORT_WORKER_EVAL_BENCH_H_
