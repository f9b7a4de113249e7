// File: summary.h
//
// The JSON result of `cohort-worker score` and `cohort-worker bench` as one
// type: what the subcommand prints on stdout, what the executor stores as a
// scores or completions artifact's summary.json, and what a gate step reads
// back. The summary carries the headline metric (IFEval: the four
// prompt/instruction x strict/loose accuracies; otherwise n, passed,
// accuracy) and the answer-length statistics of the card's analysis:
// characters and tokens p50/p90/max (p50 = the median cast to int, p90 =
// sorted[n*9/10], as omk's compute_token_stats), the share of problems at or
// over the budget, saturated-and-failed, and mean tokens of passes vs
// failures. Token statistics cover only rows that carry token counts.
//
// ScoreSummaryToJson writes the established format (shares and means are
// null where nothing was counted; ifeval and generation only when present);
// ScoreSummaryFromJson is its inverse and names the field that is missing or
// of the wrong type. Summaries already in caches were written before some
// fields existed, so those few are read as absent (server_errors and
// server_error_kinds: none; share_saturated_and_failed: computed;
// sentence_splitter: ""; reasoning_budget_enforced: unknown); every other
// field is required. SummaryTest round-trips every field.
//
// Thread safety: plain values.
#ifndef COHORT_WORKER_EVAL_SUMMARY_H_
#define COHORT_WORKER_EVAL_SUMMARY_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "worker/eval/bench.h"
#include "worker/eval/result.h"

namespace cohort::worker::eval {

struct Percentiles {
  int64_t n = 0;
  int64_t p50 = 0;
  int64_t p90 = 0;
  int64_t max = 0;
};

struct BudgetStats {
  int64_t threshold_tokens = 0;
  int64_t at_or_over = 0;
  std::optional<double> share_at_or_over;  // of n; none when n is 0
  int64_t saturated_and_failed = 0;
  // The card's definition: of the saturated outputs, the share that failed
  // (not of n); none when nothing saturated.
  std::optional<double> share_saturated_and_failed;
};

struct LengthStats {
  // None when no row had the measure (tokens: rows without server counts).
  std::optional<Percentiles> completion_chars;
  std::optional<Percentiles> reasoning_chars;
  std::optional<Percentiles> completion_tokens;
  std::optional<Percentiles> reasoning_tokens;
  BudgetStats budget;
  std::optional<double> mean_completion_tokens_pass;
  std::optional<double> mean_completion_tokens_fail;
  std::map<std::string, int64_t> finish_reasons;  // "None" for a row without one
  int64_t empty_completions = 0;
};

// IFEval's metrics (lm-eval's names); shares are none when nothing counted.
struct IfevalMetrics {
  std::optional<double> prompt_level_strict_acc;
  std::optional<double> inst_level_strict_acc;
  std::optional<double> prompt_level_loose_acc;
  std::optional<double> inst_level_loose_acc;
  int64_t n_instructions = 0;
  // Sentence counts (length_constraints:number_sentences) depend on it.
  std::string sentence_splitter;
};

// What a generation run talked to, when it sent requests (a fully resumed
// run has none).
struct ServerRunStats {
  std::string server;  // the server's fingerprint
  // llama-server holds reasoning to the budget (--reasoning-budget); an
  // OpenAI-compatible server has no such limit, so the record says so.
  // None in summaries written before the record had it (2026-12-06).
  std::optional<bool> reasoning_budget_enforced;
  int64_t requests_sent = 0;
  int64_t retries = 0;
  double wall_s = 0;
  double in_flight_share = 0;
  int64_t restarts = 0;
};

// `bench` adds how the completions came to be.
struct GenerationStats {
  int64_t resumed = 0;    // problems already in the journal
  int64_t generated = 0;  // problems answered in this run
  int64_t failed = 0;     // of those, requests that failed for good
  std::optional<ServerRunStats> server_run;
};

struct ScoreSummary {
  std::string bench;
  int64_t n = 0;
  int64_t passed = 0;
  std::optional<double> accuracy;  // passed / n; none when n is 0
  int64_t n_expected = 0;          // the profile's subset size
  int64_t n_missing_from_subset = 0;
  int64_t server_errors = 0;
  std::map<std::string, int64_t> server_error_kinds;
  std::optional<std::string> scorer_version;  // none when nothing was scored
  std::optional<IfevalMetrics> ifeval;        // IFEval only
  LengthStats length;
  std::string profile;         // the protocol profile's name
  std::string profile_digest;  // and its digest
  std::optional<GenerationStats> generation;  // `bench` only
};

// The summary of scored `results` (see the file comment). `n_expected` is
// the size of the profile's subset; the caller sets n_missing_from_subset,
// the profile and generation.
ScoreSummary Summarize(const std::string& bench, const BenchSettings& settings,
                       const std::vector<ProblemResult>& results, int64_t n_expected);

nlohmann::json ScoreSummaryToJson(const ScoreSummary& summary);
// That JSON as text, indented by 2, as the subcommands print it and
// summary.json holds it (invalid UTF-8 in a server's error kind replaced).
std::string ScoreSummaryToText(const ScoreSummary& summary);
// kInvalidArgument naming the field ("summary.length.budget.at_or_over is
// string") when a field is missing or of the wrong type.
absl::StatusOr<ScoreSummary> ScoreSummaryFromJson(const nlohmann::json& json);

}  // namespace cohort::worker::eval

#endif  // COHORT_WORKER_EVAL_SUMMARY_H_
