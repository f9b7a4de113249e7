#include "worker/eval/result.h"

#include <algorithm>
#include <map>
#include <optional>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

#include "worker/eval/ifeval_text.h"
#include "worker/eval/text_util.h"

namespace cohort::worker::eval {
namespace {

// p50 = statistics.median cast to int, p90 = sorted[n*9//10], max: the
// definitions of omk's compute_token_stats, so numbers compare with the card.
nlohmann::json Percentiles(std::vector<int64_t> values) {
  if (values.empty()) return nullptr;
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  double median = n % 2 == 1 ? static_cast<double>(values[n / 2])
                             : (values[n / 2 - 1] + values[n / 2]) / 2.0;
  return {{"n", n},
          {"p50", static_cast<int64_t>(median)},
          {"p90", values[n * 9 / 10]},
          {"max", values.back()}};
}

nlohmann::json Mean(const std::vector<int64_t>& values) {
  if (values.empty()) return nullptr;
  double sum = 0;
  for (int64_t v : values) sum += static_cast<double>(v);
  return sum / static_cast<double>(values.size());
}

nlohmann::json Share(int64_t part, int64_t whole) {
  if (whole == 0) return nullptr;
  return static_cast<double>(part) / static_cast<double>(whole);
}

void AddIfevalMetrics(const std::vector<ProblemResult>& results, nlohmann::json* out) {
  int64_t prompts_strict = 0, prompts_loose = 0;
  int64_t inst = 0, inst_strict = 0, inst_loose = 0;
  for (const ProblemResult& r : results) {
    bool all_strict = true, all_loose = true;
    const nlohmann::json& strict = r.detail.value("strict", nlohmann::json::array());
    const nlohmann::json& loose = r.detail.value("loose", nlohmann::json::array());
    for (size_t i = 0; i < strict.size() && i < loose.size(); ++i) {
      bool s = strict[i].is_boolean() && strict[i].get<bool>();
      bool l = loose[i].is_boolean() && loose[i].get<bool>();
      ++inst;
      inst_strict += s;
      inst_loose += l;
      all_strict = all_strict && s;
      all_loose = all_loose && l;
    }
    prompts_strict += all_strict;
    prompts_loose += all_loose;
  }
  int64_t n = static_cast<int64_t>(results.size());
  (*out)["prompt_level_strict_acc"] = Share(prompts_strict, n);
  (*out)["inst_level_strict_acc"] = Share(inst_strict, inst);
  (*out)["prompt_level_loose_acc"] = Share(prompts_loose, n);
  (*out)["inst_level_loose_acc"] = Share(inst_loose, inst);
  (*out)["n_instructions"] = inst;
  // Sentence counts (length_constraints:number_sentences) depend on it.
  (*out)["sentence_splitter"] = SentenceSplitter();
}

nlohmann::json LengthStats(const BenchSettings& settings,
                           const std::vector<ProblemResult>& results) {
  std::vector<int64_t> chars, reasoning_chars, tokens, reasoning_tokens, pass_tok, fail_tok;
  std::map<std::string, int64_t> finish;
  int64_t at_budget = 0, saturated_failed = 0, empty = 0;
  for (const ProblemResult& r : results) {
    if (r.server_error()) continue;  // no answer to measure
    chars.push_back(r.completion_chars);
    reasoning_chars.push_back(r.reasoning_chars);
    if (r.completion_tokens) {
      tokens.push_back(*r.completion_tokens);
      (r.passed ? pass_tok : fail_tok).push_back(*r.completion_tokens);
    }
    if (r.reasoning_tokens) reasoning_tokens.push_back(*r.reasoning_tokens);
    ++finish[r.finish_reason.empty() ? "None" : r.finish_reason];
    at_budget += r.at_budget;
    saturated_failed += r.at_budget && !r.passed;
    empty += r.scored_channel == "empty";
  }
  int64_t n = static_cast<int64_t>(results.size());
  return {{"completion_chars", Percentiles(chars)},
          {"reasoning_chars", Percentiles(reasoning_chars)},
          {"completion_tokens", Percentiles(tokens)},
          {"reasoning_tokens", Percentiles(reasoning_tokens)},
          {"budget",
           {{"threshold_tokens", settings.SaturationThreshold()},
            {"at_or_over", at_budget},
            {"share_at_or_over", Share(at_budget, n)},
            {"saturated_and_failed", saturated_failed},
            // The card's definition: of the saturated outputs, the share
            // that failed (not of n).
            {"share_saturated_and_failed", Share(saturated_failed, at_budget)}}},
          {"mean_completion_tokens_pass", Mean(pass_tok)},
          {"mean_completion_tokens_fail", Mean(fail_tok)},
          {"finish_reasons", finish},
          {"empty_completions", empty}};
}

}  // namespace

std::string ScoredText(const std::string& completion, const std::string& reasoning,
                       std::string* channel) {
  // Python truthiness, as the protocol's `content if content else reasoning`
  // decides: "   \n" is content (and scores as no answer), not a fallback.
  if (!completion.empty()) {
    *channel = "content";
    return completion;
  }
  if (!reasoning.empty()) {
    *channel = "reasoning";
    return reasoning;
  }
  *channel = "empty";
  return completion;
}

bool AtBudget(const ProblemResult& r, const BenchSettings& settings) {
  if (r.finish_reason == "length") return true;
  int64_t threshold = settings.SaturationThreshold();
  if (threshold <= 0) return false;
  if (settings.thinking && r.reasoning_tokens) return *r.reasoning_tokens >= threshold;
  return r.completion_tokens && *r.completion_tokens >= threshold;
}

nlohmann::json ResultToJson(const ProblemResult& r) {
  nlohmann::json j = {{"id", r.id},
                      {"index", r.index},
                      {"prompt_digest", r.prompt_digest},
                      {"completion", r.completion},
                      {"reasoning", r.reasoning},
                      {"scored_channel", r.scored_channel},
                      {"completion_chars", r.completion_chars},
                      {"reasoning_chars", r.reasoning_chars},
                      {"completion_tokens", nullptr},
                      {"reasoning_tokens", nullptr},
                      {"finish_reason", r.finish_reason},
                      {"extracted", r.extracted},
                      {"rule", r.rule},
                      {"passed", r.passed},
                      {"at_budget", r.at_budget},
                      {"scorer_version", r.scorer_version}};
  if (r.completion_tokens) j["completion_tokens"] = *r.completion_tokens;
  if (r.reasoning_tokens) j["reasoning_tokens"] = *r.reasoning_tokens;
  if (!r.detail.empty()) j["detail"] = r.detail;
  if (r.server_error()) {
    j["error"] = r.error_message;
    j["error_kind"] = r.error_kind;
  }
  return j;
}

std::string ResultToLine(const ProblemResult& r) {
  return ResultToJson(r).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

namespace {

// Reads `row[key]` into `*out` when present and not null; kInvalidArgument
// naming the key when it has another type.
template <typename T>
absl::Status ReadField(const nlohmann::json& row, const char* key, T* out) {
  auto it = row.find(key);
  if (it == row.end() || it->is_null()) return absl::OkStatus();
  const bool fits = std::is_same_v<T, std::string> ? it->is_string()
                    : std::is_same_v<T, bool>      ? it->is_boolean()
                                                   : it->is_number_integer();
  if (!fits) {
    return absl::InvalidArgumentError(
        absl::StrCat("result row: \"", key, "\" is ", it->type_name()));
  }
  *out = it->get<T>();
  return absl::OkStatus();
}

absl::Status ReadOptional(const nlohmann::json& row, const char* key,
                          std::optional<int64_t>* out) {
  auto it = row.find(key);
  if (it == row.end() || it->is_null()) return absl::OkStatus();
  int64_t value = 0;
  COHORT_RETURN_IF_ERROR(ReadField(row, key, &value));
  *out = value;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ProblemResult> ResultFromJson(const nlohmann::json& row) {
  if (!row.is_object()) return absl::InvalidArgumentError("result row: not an object");
  if (!row.contains("id")) return absl::InvalidArgumentError("result row: no \"id\"");
  ProblemResult r;
  COHORT_RETURN_IF_ERROR(ReadField(row, "id", &r.id));
  COHORT_RETURN_IF_ERROR(ReadField(row, "index", &r.index));
  COHORT_RETURN_IF_ERROR(ReadField(row, "prompt_digest", &r.prompt_digest));
  COHORT_RETURN_IF_ERROR(ReadField(row, "completion", &r.completion));
  COHORT_RETURN_IF_ERROR(ReadField(row, "reasoning", &r.reasoning));
  COHORT_RETURN_IF_ERROR(ReadField(row, "scored_channel", &r.scored_channel));
  COHORT_RETURN_IF_ERROR(ReadField(row, "completion_chars", &r.completion_chars));
  COHORT_RETURN_IF_ERROR(ReadField(row, "reasoning_chars", &r.reasoning_chars));
  COHORT_RETURN_IF_ERROR(ReadOptional(row, "completion_tokens", &r.completion_tokens));
  COHORT_RETURN_IF_ERROR(ReadOptional(row, "reasoning_tokens", &r.reasoning_tokens));
  COHORT_RETURN_IF_ERROR(ReadField(row, "finish_reason", &r.finish_reason));
  COHORT_RETURN_IF_ERROR(ReadField(row, "extracted", &r.extracted));
  COHORT_RETURN_IF_ERROR(ReadField(row, "rule", &r.rule));
  COHORT_RETURN_IF_ERROR(ReadField(row, "passed", &r.passed));
  COHORT_RETURN_IF_ERROR(ReadField(row, "at_budget", &r.at_budget));
  COHORT_RETURN_IF_ERROR(ReadField(row, "scorer_version", &r.scorer_version));
  COHORT_RETURN_IF_ERROR(ReadField(row, "error", &r.error_message));
  COHORT_RETURN_IF_ERROR(ReadField(row, "error_kind", &r.error_kind));
  if (auto detail = row.find("detail"); detail != row.end() && !detail->is_null()) {
    if (!detail->is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat("result row: \"detail\" is ", detail->type_name()));
    }
    r.detail = *detail;
  }
  if (row.contains("error") && r.error_kind.empty()) {
    // ResultToJson writes both or neither: an error with no kind would read
    // as an answer.
    return absl::InvalidArgumentError("result row: \"error\" without \"error_kind\"");
  }
  return r;
}

nlohmann::json Summarize(const std::string& bench, const BenchSettings& settings,
                         const std::vector<ProblemResult>& results, int n_expected) {
  int64_t passed = 0;
  int64_t server_errors = 0;
  std::map<std::string, int64_t> kinds;
  for (const ProblemResult& r : results) {
    passed += r.passed;
    if (r.server_error()) {
      ++server_errors;
      ++kinds[r.error_kind];
    }
  }
  int64_t n = static_cast<int64_t>(results.size());
  nlohmann::json out = {{"bench", bench},
                        {"n", n},
                        {"passed", passed},
                        {"accuracy", Share(passed, n)},
                        {"n_expected", n_expected},
                        {"server_errors", server_errors},
                        {"server_error_kinds", kinds}};
  if (!results.empty()) out["scorer_version"] = results.front().scorer_version;
  if (bench == "ifeval") AddIfevalMetrics(results, &out);
  out["length"] = LengthStats(settings, results);
  return out;
}

}  // namespace cohort::worker::eval
