#include "worker/eval/score.h"

#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "worker/eval/jsonl.h"
#include "worker/eval/text_util.h"
#include "worker/sandbox/pool.h"

namespace cohort::worker::eval {
namespace {

absl::Status LineError(const std::string& path, int line, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ":", line, ": ", what));
}

absl::Status ReadOptionalText(const JsonLine& row, std::initializer_list<const char*> keys,
                              std::string* out, const std::string& path) {
  for (const char* key : keys) {
    auto it = row.value.find(key);
    if (it == row.value.end() || it->is_null()) continue;
    if (!it->is_string()) return LineError(path, row.line, absl::StrCat("'", key, "' must be a string"));
    *out = it->get<std::string>();
    return absl::OkStatus();
  }
  return absl::OkStatus();
}

absl::Status ReadCount(const JsonLine& row, const char* key, std::optional<int64_t>* out,
                       const std::string& path) {
  auto it = row.value.find(key);
  if (it == row.value.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_number_integer() || it->get<int64_t>() < 0) {
    return LineError(path, row.line, absl::StrCat("'", key, "' must be a non-negative integer"));
  }
  *out = it->get<int64_t>();
  return absl::OkStatus();
}

absl::Status ReadIdentity(const JsonLine& row, CompletionRow* out, const std::string& path) {
  for (const char* key : {"task_id", "id", "problem_id"}) {
    auto it = row.value.find(key);
    if (it == row.value.end()) continue;
    out->id = ScalarToString(*it);
    if (out->id.empty()) {
      return LineError(path, row.line, absl::StrCat("'", key, "' must be a string or integer"));
    }
    return absl::OkStatus();
  }
  if (auto it = row.value.find("idx"); it != row.value.end()) {
    if (!it->is_number_integer()) return LineError(path, row.line, "'idx' must be an integer");
    out->idx = it->get<int64_t>();
    return absl::OkStatus();
  }
  if (auto it = row.value.find("prompt"); it != row.value.end() && it->is_string()) {
    out->prompt = it->get<std::string>();
    out->has_prompt = true;
    return absl::OkStatus();
  }
  return LineError(path, row.line, "no problem id (task_id, id, problem_id, idx) or prompt");
}

// error_kind, else error_code (older journals), else "error" when only a
// string `error` is there; the message from error_message, else error.
absl::Status ReadServerError(const JsonLine& row, CompletionRow* out, const std::string& path) {
  std::string kind, code, error;
  COHORT_RETURN_IF_ERROR(ReadOptionalText(row, {"error_kind"}, &kind, path));
  COHORT_RETURN_IF_ERROR(ReadOptionalText(row, {"error_code"}, &code, path));
  COHORT_RETURN_IF_ERROR(ReadOptionalText(row, {"error_message", "error"}, &error, path));
  out->error_kind = !kind.empty() ? kind : !code.empty() ? code : !error.empty() ? "error" : "";
  if (!out->error_kind.empty()) out->error_message = error;
  return absl::OkStatus();
}

absl::StatusOr<CompletionRow> ParseCompletionRow(const JsonLine& row, const std::string& path) {
  CompletionRow out;
  out.line = row.line;
  COHORT_RETURN_IF_ERROR(ReadIdentity(row, &out, path));
  if (!row.value.contains("completion") && !row.value.contains("response")) {
    return LineError(path, row.line, "no 'completion' or 'response'");
  }
  COHORT_RETURN_IF_ERROR(ReadOptionalText(row, {"completion", "response"}, &out.completion, path));
  COHORT_RETURN_IF_ERROR(
      ReadOptionalText(row, {"reasoning_content", "reasoning"}, &out.reasoning, path));
  COHORT_RETURN_IF_ERROR(ReadOptionalText(row, {"finish_reason"}, &out.finish_reason, path));
  COHORT_RETURN_IF_ERROR(ReadCount(row, "completion_tokens", &out.completion_tokens, path));
  COHORT_RETURN_IF_ERROR(ReadCount(row, "reasoning_tokens", &out.reasoning_tokens, path));
  COHORT_RETURN_IF_ERROR(ReadServerError(row, &out, path));
  return out;
}

// Index into `problems` for a row, or an error naming the row.
absl::StatusOr<size_t> Resolve(const CompletionRow& row, const std::vector<Problem>& problems,
                               const std::map<std::string, size_t>& by_id,
                               const std::map<std::string, size_t>& by_prompt,
                               const std::string& path) {
  if (!row.id.empty()) {
    auto it = by_id.find(row.id);
    if (it == by_id.end()) {
      return LineError(path, row.line, absl::StrCat("completion for unknown problem id '", row.id, "'"));
    }
    return it->second;
  }
  if (row.idx >= 0) {
    if (row.idx >= static_cast<int64_t>(problems.size())) {
      return LineError(path, row.line, absl::StrCat("completion for unknown problem idx ", row.idx));
    }
    return static_cast<size_t>(row.idx);
  }
  if (row.has_prompt) {
    auto it = by_prompt.find(row.prompt);
    if (it == by_prompt.end()) {
      return LineError(path, row.line, "completion for a prompt that is not in the dataset");
    }
    return it->second;
  }
  return LineError(path, row.line, absl::StrCat("completion for unknown problem idx ", row.idx));
}

}  // namespace

absl::StatusOr<std::vector<CompletionRow>> ReadCompletions(const std::string& path) {
  COHORT_ASSIGN_OR_RETURN(std::vector<JsonLine> lines, ReadJsonLines(path));
  std::vector<CompletionRow> rows;
  for (const JsonLine& line : lines) {
    COHORT_ASSIGN_OR_RETURN(CompletionRow row, ParseCompletionRow(line, path));
    rows.push_back(std::move(row));
  }
  return rows;
}

ProblemResult ScoreCompletion(const BenchSpec& bench, const BenchSettings& settings,
                              const Problem& problem, const CompletionRow& row) {
  ProblemResult r;
  static_cast<Answer&>(r) = row;
  r.id = problem.id;
  r.index = problem.index;
  r.prompt_digest = PromptDigest(problem);
  std::string text = ScoredText(row.completion, row.reasoning, &r.scored_channel);
  r.completion_chars = CodePointCount(text);
  r.reasoning_chars = CodePointCount(row.reasoning);
  r.scorer_version = bench.scorer_version;
  if (row.server_error()) {
    // No answer to score. Text benches still see the empty text, so their
    // details (IFEval's per-instruction lists) keep their shape; code is not
    // run for nothing.
    if (!bench.runs_code) {
      Verdict v = bench.score(problem, text, settings);
      r.extracted = v.extracted;
      r.rule = v.rule;
      r.detail = v.detail;
    }
    r.passed = false;
    r.at_budget = AtBudget(r, settings);
    return r;
  }
  Verdict v = bench.score(problem, text, settings);
  r.extracted = v.extracted;
  r.rule = v.rule;
  r.passed = v.passed;
  r.detail = v.detail;
  r.at_budget = AtBudget(r, settings);
  return r;
}

absl::StatusOr<ScoreRun> ScoreCompletions(const BenchSpec& bench,
                                          const BenchSettings& settings,
                                          const std::vector<Problem>& problems,
                                          const std::vector<CompletionRow>& rows,
                                          const std::string& completions_path) {
  std::map<std::string, size_t> by_id;
  std::map<std::string, size_t> by_prompt;
  for (size_t i = 0; i < problems.size(); ++i) {
    by_id.emplace(problems[i].id, i);
    by_prompt.emplace(problems[i].prompt, i);
  }
  std::map<size_t, const CompletionRow*> chosen;
  for (const CompletionRow& row : rows) {
    COHORT_ASSIGN_OR_RETURN(size_t at, Resolve(row, problems, by_id, by_prompt, completions_path));
    if (!chosen.emplace(at, &row).second) {
      return LineError(completions_path, row.line,
                       absl::StrCat("second completion for problem '", problems[at].id, "'"));
    }
  }
  ScoreRun run;
  std::vector<std::pair<size_t, const CompletionRow*>> order(chosen.begin(), chosen.end());
  run.results.resize(order.size());
  sandbox::ParallelFor(order.size(), bench.runs_code ? sandbox::DefaultWorkers() : 1,
                       [&](size_t i) {
                         run.results[i] = ScoreCompletion(bench, settings,
                                                          problems[order[i].first],
                                                          *order[i].second);
                       });
  size_t subset = settings.limit > 0 ? std::min<size_t>(settings.limit, problems.size())
                                     : problems.size();
  int64_t missing = 0;
  for (size_t i = 0; i < subset; ++i) missing += chosen.count(i) == 0;
  run.summary = Summarize(bench.name, settings, run.results, static_cast<int64_t>(subset));
  run.summary.n_missing_from_subset = missing;
  return run;
}

}  // namespace cohort::worker::eval
