// File: score.h
//
// Offline scoring: completions read from a file are matched to the
// problems of a loaded dataset and scored. Completion files are JSON Lines;
// each row names its problem by one of
//   task_id | id | problem_id   the problem id (a string or an integer)
//   idx                         the 0-based row of the dataset (doc_id)
//   prompt                      the exact prompt text (IFEval's published
//                               {prompt, response} files)
// and carries the text in `completion` or `response` (null reads as ""),
// optionally `reasoning_content`/`reasoning`, `completion_tokens`,
// `reasoning_tokens` and `finish_reason`. A row that carries `error_kind`
// (or `error_code`, or a string `error`: the bench journal's failed
// problems, worker/llama result_log.h) is a server error: it is counted in
// the summary's `server_errors` / `server_error_kinds`, never passes, and its
// verdict row carries `error` and `error_kind` (cohort.v1 VERDICT_ERROR).
// Rows for unknown problems,
// duplicate rows and malformed rows are errors naming the file and line.
#ifndef COHORT_WORKER_EVAL_SCORE_H_
#define COHORT_WORKER_EVAL_SCORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "worker/eval/bench.h"
#include "worker/eval/result.h"
#include "worker/eval/summary.h"

namespace cohort::worker::eval {

// A row of a completions file (ours, or another harness's): the answer and
// how it names its problem.
struct CompletionRow : Answer {
  int line = 0;
  std::string id;          // from task_id/id/problem_id; "" if absent
  int64_t idx = -1;        // from idx; -1 if absent
  std::string prompt;      // join key when neither id nor idx is given
  bool has_prompt = false;
};

absl::StatusOr<std::vector<CompletionRow>> ReadCompletions(const std::string& path);

// Scores one completion of `problem` (prompt digest, Fix-A channel choice,
// lengths, verdict, saturation).
ProblemResult ScoreCompletion(const BenchSpec& bench, const BenchSettings& settings,
                              const Problem& problem, const CompletionRow& row);

struct ScoreRun {
  std::vector<ProblemResult> results;  // in dataset order
  ScoreSummary summary;
};

// Matches `rows` to `problems` and scores them; `completions_path` names the
// file in errors. summary.n_missing_from_subset counts problems of the
// profile's first-N subset that have no completion.
absl::StatusOr<ScoreRun> ScoreCompletions(const BenchSpec& bench,
                                          const BenchSettings& settings,
                                          const std::vector<Problem>& problems,
                                          const std::vector<CompletionRow>& rows,
                                          const std::string& completions_path);

}  // namespace cohort::worker::eval

#endif  // COHORT_WORKER_EVAL_SCORE_H_
