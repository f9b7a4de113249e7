// File: lm_eval.h
//
// lm-evaluation-harness's view of cohort's benches, for writing results in
// the files lm-eval itself writes with --log_samples (samples_<task>_<date>
// .jsonl, results_<date>.json; docs/cli.md "export"). The protocol ran the
// lm-eval benches through lm-eval 0.4.11, so a sample line here is the line
// that run would have logged for the same request and response:
//
//   doc          the dataset row in the layout of the Hugging Face dataset the
//                task reads (ARC's AI2 rows become ai2_arc rows, HumanEval's
//                keys take openai_humaneval's order, IFEval's kwargs get
//                google/IFEval's full key list with nulls)
//   target       the task's doc_to_target
//   arguments    {"gen_args_0": {"arg_0": [messages as lm-eval logs them],
//                                "arg_1": generation kwargs}}
//   doc_hash, prompt_hash, target_hash   as lm-eval computes them (sha256
//                of json.dumps(doc, indent=2, ensure_ascii=False), of arg_0,
//                of str(target))
//
// Checked against samples files of a real lm-eval 0.4.11 run
// (LmEvalExportTest; docs/benches.md). Pure: reads the dataset file, no
// network.
#ifndef COHORT_WORKER_EVAL_LM_EVAL_H_
#define COHORT_WORKER_EVAL_LM_EVAL_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "worker/eval/bench.h"
#include "worker/eval/profile.h"

namespace cohort::worker::eval {

// The task as the protocol's lm-eval run names and scores it.
struct LmEvalTask {
  std::string task;     // task name (omk's chat tasks where the card used them)
  std::string filter;   // the filter whose output cohort's verdict scores
  // Every filter lm-eval logs for the task, in the YAML's order (GSM8K:
  // strict-match, then flexible-extract); those other than `filter` are
  // recomputed from the response (LmEvalSamples).
  std::vector<std::string> filters;
  std::vector<std::string> metrics;  // per-sample metric keys cohort fills
  double version = 0;   // the task YAML's metadata.version
  bool runs_in_lm_eval = true;  // false: LCB and MultiPL-E (their own harnesses)
};

// Every registered bench has one.
LmEvalTask LmEvalTaskOf(const std::string& bench);

struct LmEvalDoc {
  nlohmann::ordered_json doc;
  std::string target;
  std::string arguments;  // arg_0's one string: LmEvalChatJson(problem)
  std::string prompt_hash;
};

// The bench file's documents as lm-eval sees them, by row index (every row
// of the file, whatever the profile's limit).
absl::StatusOr<std::map<int, LmEvalDoc>> LoadLmEvalDocs(const BenchSpec& bench,
                                                        const std::string& path,
                                                        const BenchSettings& settings);

// What cohort stored for one scored problem.
struct LmEvalOutcome {
  std::string response;   // the scored text (Fix-A: content, else reasoning)
  std::string extracted;  // the extractor's answer
  bool passed = false;
  nlohmann::json detail = nlohmann::json::object();  // the verdict's detail
};

// The request's generation kwargs as lm-eval logs them (arg_1 of a sample,
// generation_kwargs of a task config): until, do_sample, temperature, top_p,
// top_k, max_gen_toks.
nlohmann::ordered_json LmEvalGenKwargs(const BenchSettings& settings);

// One samples_*.jsonl record for `filter`, keys in lm-eval's order.
nlohmann::ordered_json LmEvalSample(const LmEvalTask& task, const std::string& filter, int doc_id,
                                    const LmEvalDoc& doc, const BenchSettings& settings,
                                    const LmEvalOutcome& outcome);

// The records lm-eval logs for one document, one per filter in the task's
// order: GSM8K's strict-match (lm-eval's "#### (\-?[0-9\.\,]+)", first
// match, exact_match after its regexes_to_ignore) is recomputed from the
// response; the scored filter carries cohort's verdict.
std::vector<nlohmann::ordered_json> LmEvalSamples(const LmEvalTask& task, int doc_id,
                                                  const LmEvalDoc& doc,
                                                  const BenchSettings& settings,
                                                  const LmEvalOutcome& outcome);

// Per-task aggregate for results_*.json over the records of every filter:
// {"alias": task, then per filter in the task's order "<metric>,<filter>":
// mean, "<metric>_stderr,<filter>": sample stddev / sqrt(n) (ddof 1), or
// "N/A" as lm-eval writes for n <= 1 and for IFEval's instruction-level
// metrics}.
nlohmann::ordered_json LmEvalTaskResults(const LmEvalTask& task,
                                         const std::vector<nlohmann::ordered_json>& samples);

// lm-eval's task_hashes entry: sha256 of the samples' doc, prompt and target
// hashes, concatenated in order.
std::string LmEvalTaskHash(const std::vector<nlohmann::ordered_json>& samples);

// Python's json.dumps(value, ensure_ascii=False), with indent=2 when
// `indent` (lm-eval's doc_hash and results files) and the default ", " / ": "
// separators otherwise (its samples lines). Floats print as Python's repr.
std::string PyJsonDumps(const nlohmann::ordered_json& value, bool indent);

}  // namespace cohort::worker::eval

#endif  // COHORT_WORKER_EVAL_LM_EVAL_H_
