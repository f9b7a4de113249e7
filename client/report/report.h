// File: report.h
//
// The report math of `cohort report`, `lengths`, `compare` and `export`, on
// plain rows (pure: no gRPC; the CLI fills the rows from QueryResults of the
// campaign's score steps). Definitions:
//
//   n         scored problems (verdict pass, fail or error) of a model on a
//             suite; accuracy = passed / n.
//   Δ         accuracy(model) - accuracy(reference), in percentage points,
//             over each model's own problems.
//   chars     completion_chars + reasoning_chars (both channels).
//   tokens    completion_tokens as the server counted them (reasoning
//             included, llama-server's usage).
//   pXX       nearest rank: the value at rank ceil(XX/100 * n) of the sorted
//             values.
//   saturated finish_reason "length", or tokens >= the saturation threshold
//             (protocol: 12000 of the 12288 thinking budget).
//   saturated-and-failed  saturated and not passed.
//   server errors  problems with verdict error: the request failed for good
//             (the scored row carries `error_kind`, e.g. "500 peg-native
//             format"). They stay in n (accuracy divides by the intended
//             problems, docs/protocol.md T10) but are not wrong answers: the
//             renderers show them apart, and lengths leave them out of the
//             length and pass/fail statistics.
#ifndef COHORT_CLIENT_REPORT_REPORT_H_
#define COHORT_CLIENT_REPORT_REPORT_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

namespace cohort::client::report {

enum class Verdict { kUnscored, kPass, kFail, kError };

// One scored problem of one model on one suite.
struct Row {
  std::string model;
  std::string suite;
  std::string problem_id;
  uint32_t sample = 0;
  Verdict verdict = Verdict::kUnscored;
  std::string finish_reason;
  uint64_t completion_tokens = 0;
  uint64_t reasoning_tokens = 0;
  uint64_t completion_chars = 0;
  uint64_t reasoning_chars = 0;
  // For export only.
  std::string completion;
  std::string reasoning;
  std::string extracted_answer;
  std::string prompt_digest;
  std::string details_json;
};

// The error kind of a row with verdict error: details_json's `error_kind`,
// else "error".
std::string ErrorKind(const Row& row);

struct Cell {
  uint64_t n = 0;
  uint64_t passed = 0;
  uint64_t server_errors = 0;                        // verdict error, within n
  std::map<std::string, uint64_t> server_error_kinds;  // kind -> count
  double accuracy() const { return n == 0 ? 0.0 : static_cast<double>(passed) / n; }
};

// Suites (rows) x models (columns), in first-seen order unless given.
struct Scoreboard {
  std::vector<std::string> suites;
  std::vector<std::string> models;
  std::vector<std::string> references;  // models the Δ columns compare with
  std::map<std::string, std::map<std::string, Cell>> cells;  // suite -> model
  // What `models` holds, for AddToScoreboard (a linear search of 4,000
  // models per cell was most of a 10^5-step campaign's scoreboard).
  std::unordered_set<std::string> listed_models;
  const Cell* Find(const std::string& suite, const std::string& model) const;
  // accuracy(model) - accuracy(reference) in points; nullopt when either
  // cell is missing or empty.
  std::optional<double> Delta(const std::string& suite, const std::string& model,
                              const std::string& reference) const;
};

Scoreboard BuildScoreboard(const std::vector<Row>& rows,
                           const std::vector<std::string>& model_order,
                           const std::vector<std::string>& references);
// The same board built from counts (cohortd's dashboard tallies verdicts in
// SQLite rather than loading 10^6 rows): start empty, then add `count` scored
// rows of one verdict at a time; an error row's kind goes to
// server_error_kinds. Unscored rows are not counted, as in BuildScoreboard.
Scoreboard EmptyScoreboard(const std::vector<std::string>& model_order,
                           const std::vector<std::string>& references);
void AddToScoreboard(Scoreboard* board, const std::string& suite, const std::string& model,
                     Verdict verdict, uint64_t count, const std::string& error_kind = "error");

struct LengthStats {
  uint64_t n = 0;              // scored problems, server errors included
  uint64_t server_errors = 0;  // not measured, not failures
  uint64_t chars_p50 = 0, chars_p90 = 0, chars_max = 0;
  uint64_t tokens_p50 = 0, tokens_p90 = 0, tokens_max = 0;
  uint64_t saturated = 0;
  uint64_t saturated_and_failed = 0;
  uint64_t passes = 0, failures = 0;
  double mean_tokens_pass = 0;  // 0 when there is no pass
  double mean_tokens_fail = 0;
};

// Nearest-rank percentile of unsorted values (0 for none).
uint64_t Percentile(std::vector<uint64_t> values, double pct);
bool Saturated(const Row& row, uint64_t saturation_tokens);

// (model, suite) -> stats.
std::map<std::pair<std::string, std::string>, LengthStats> BuildLengths(
    const std::vector<Row>& rows, uint64_t saturation_tokens);

struct Flips {
  uint64_t both_pass = 0, both_fail = 0;
  std::vector<std::string> wins;    // A passed, B did not
  std::vector<std::string> losses;  // B passed, A did not
  uint64_t only_a = 0, only_b = 0;  // problems one side lacks
};

// Per suite, per problem (sample 0) flips of model A against model B.
std::map<std::string, Flips> Compare(const std::vector<Row>& rows,
                                     const std::string& a, const std::string& b);

// One quantized model of a tier sweep, from what its quantize step measured
// (Step.facts_json): the tier, size on disk, and bits per weight as llama.cpp
// counts them (tensor bytes * 8 / parameters).
struct Tier {
  std::string model;
  std::string type;  // "Q6_K"
  uint64_t file_bytes = 0;
  uint64_t parameters = 0;
  double bits_per_weight = 0;
  int64_t tensor_rules = 0;              // per-tensor rules applied (hand-written, generated)
  std::optional<double> map_target_bpw = {};  // a generated map's target (quantmap)
  // "Q6_K", "Q6_K + map 5.50" (a generated map), "Q4_K_M + 2 rules".
  std::string Label() const;
};

// nullopt when `facts_json` is not a quantize step's facts (empty, another
// kind's, from a cohortd before step facts, or malformed).
std::optional<Tier> TierFromFacts(const std::string& model, const std::string& facts_json);

}  // namespace cohort::client::report

#endif  // COHORT_CLIENT_REPORT_REPORT_H_
