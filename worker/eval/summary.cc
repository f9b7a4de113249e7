#include "worker/eval/summary.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/json_fields.h"
#include "common/status_macros.h"
#include "worker/eval/ifeval_text.h"

namespace cohort::worker::eval {
namespace {

using json = nlohmann::json;

// p50 = statistics.median cast to int, p90 = sorted[n*9//10], max: the
// definitions of omk's compute_token_stats, so numbers compare with the card.
std::optional<Percentiles> PercentilesOf(std::vector<int64_t> values) {
  if (values.empty()) return std::nullopt;
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  double median = n % 2 == 1 ? static_cast<double>(values[n / 2])
                             : (values[n / 2 - 1] + values[n / 2]) / 2.0;
  return Percentiles{static_cast<int64_t>(n), static_cast<int64_t>(median), values[n * 9 / 10],
                     values.back()};
}

std::optional<double> Mean(const std::vector<int64_t>& values) {
  if (values.empty()) return std::nullopt;
  double sum = 0;
  for (int64_t v : values) sum += static_cast<double>(v);
  return sum / static_cast<double>(values.size());
}

std::optional<double> Share(int64_t part, int64_t whole) {
  if (whole == 0) return std::nullopt;
  return static_cast<double>(part) / static_cast<double>(whole);
}

IfevalMetrics IfevalMetricsOf(const std::vector<ProblemResult>& results) {
  int64_t prompts_strict = 0, prompts_loose = 0;
  int64_t inst = 0, inst_strict = 0, inst_loose = 0;
  for (const ProblemResult& r : results) {
    bool all_strict = true, all_loose = true;
    const json& strict = r.detail.value("strict", json::array());
    const json& loose = r.detail.value("loose", json::array());
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
  IfevalMetrics m;
  m.prompt_level_strict_acc = Share(prompts_strict, n);
  m.inst_level_strict_acc = Share(inst_strict, inst);
  m.prompt_level_loose_acc = Share(prompts_loose, n);
  m.inst_level_loose_acc = Share(inst_loose, inst);
  m.n_instructions = inst;
  m.sentence_splitter = SentenceSplitter();
  return m;
}

LengthStats LengthStatsOf(const BenchSettings& settings,
                          const std::vector<ProblemResult>& results) {
  std::vector<int64_t> chars, reasoning_chars, tokens, reasoning_tokens, pass_tok, fail_tok;
  LengthStats out;
  int64_t at_budget = 0, saturated_failed = 0;
  for (const ProblemResult& r : results) {
    if (r.server_error()) continue;  // no answer to measure
    chars.push_back(r.completion_chars);
    reasoning_chars.push_back(r.reasoning_chars);
    if (r.completion_tokens) {
      tokens.push_back(*r.completion_tokens);
      (r.passed ? pass_tok : fail_tok).push_back(*r.completion_tokens);
    }
    if (r.reasoning_tokens) reasoning_tokens.push_back(*r.reasoning_tokens);
    ++out.finish_reasons[r.finish_reason.empty() ? "None" : r.finish_reason];
    at_budget += r.at_budget;
    saturated_failed += r.at_budget && !r.passed;
    out.empty_completions += r.scored_channel == "empty";
  }
  out.completion_chars = PercentilesOf(std::move(chars));
  out.reasoning_chars = PercentilesOf(std::move(reasoning_chars));
  out.completion_tokens = PercentilesOf(std::move(tokens));
  out.reasoning_tokens = PercentilesOf(std::move(reasoning_tokens));
  out.budget.threshold_tokens = settings.SaturationThreshold();
  out.budget.at_or_over = at_budget;
  out.budget.share_at_or_over = Share(at_budget, static_cast<int64_t>(results.size()));
  out.budget.saturated_and_failed = saturated_failed;
  out.budget.share_saturated_and_failed = Share(saturated_failed, at_budget);
  out.mean_completion_tokens_pass = Mean(pass_tok);
  out.mean_completion_tokens_fail = Mean(fail_tok);
  return out;
}

// ---- to JSON ----

template <typename T>
json Nullable(const std::optional<T>& value) {
  return value ? json(*value) : json(nullptr);
}

json PercentilesToJson(const std::optional<Percentiles>& p) {
  if (!p) return nullptr;
  return {{"n", p->n}, {"p50", p->p50}, {"p90", p->p90}, {"max", p->max}};
}

json LengthToJson(const LengthStats& l) {
  return {{"completion_chars", PercentilesToJson(l.completion_chars)},
          {"reasoning_chars", PercentilesToJson(l.reasoning_chars)},
          {"completion_tokens", PercentilesToJson(l.completion_tokens)},
          {"reasoning_tokens", PercentilesToJson(l.reasoning_tokens)},
          {"budget",
           {{"threshold_tokens", l.budget.threshold_tokens},
            {"at_or_over", l.budget.at_or_over},
            {"share_at_or_over", Nullable(l.budget.share_at_or_over)},
            {"saturated_and_failed", l.budget.saturated_and_failed},
            {"share_saturated_and_failed", Nullable(l.budget.share_saturated_and_failed)}}},
          {"mean_completion_tokens_pass", Nullable(l.mean_completion_tokens_pass)},
          {"mean_completion_tokens_fail", Nullable(l.mean_completion_tokens_fail)},
          {"finish_reasons", l.finish_reasons},
          {"empty_completions", l.empty_completions}};
}

json GenerationToJson(const GenerationStats& g) {
  json out = {{"resumed", g.resumed}, {"generated", g.generated}, {"failed", g.failed}};
  if (const std::optional<ServerRunStats>& s = g.server_run) {
    out["server"] = s->server;
    if (s->reasoning_budget_enforced) {
      out["reasoning_budget_enforced"] = *s->reasoning_budget_enforced;
    }
    out["requests_sent"] = s->requests_sent;
    out["retries"] = s->retries;
    out["wall_s"] = s->wall_s;
    out["in_flight_share"] = s->in_flight_share;
    out["restarts"] = s->restarts;
  }
  return out;
}

// ---- from JSON ----

absl::Status ReadPercentiles(const JsonFields& parent, const char* key,
                             std::optional<Percentiles>* out) {
  COHORT_RETURN_IF_ERROR(parent.Require(key));
  if (parent.IsNull(key)) {
    out->reset();
    return absl::OkStatus();
  }
  JsonFields p = parent.Child(key);
  COHORT_RETURN_IF_ERROR(p.CheckObject());
  Percentiles value;
  COHORT_RETURN_IF_ERROR(p.Int("n", &value.n));
  COHORT_RETURN_IF_ERROR(p.Int("p50", &value.p50));
  COHORT_RETURN_IF_ERROR(p.Int("p90", &value.p90));
  COHORT_RETURN_IF_ERROR(p.Int("max", &value.max));
  *out = value;
  return absl::OkStatus();
}

absl::Status ReadLength(const JsonFields& l, LengthStats* out) {
  COHORT_RETURN_IF_ERROR(l.CheckObject());
  COHORT_RETURN_IF_ERROR(ReadPercentiles(l, "completion_chars", &out->completion_chars));
  COHORT_RETURN_IF_ERROR(ReadPercentiles(l, "reasoning_chars", &out->reasoning_chars));
  COHORT_RETURN_IF_ERROR(ReadPercentiles(l, "completion_tokens", &out->completion_tokens));
  COHORT_RETURN_IF_ERROR(ReadPercentiles(l, "reasoning_tokens", &out->reasoning_tokens));
  COHORT_RETURN_IF_ERROR(l.Require("budget"));
  JsonFields b = l.Child("budget");
  COHORT_RETURN_IF_ERROR(b.CheckObject());
  COHORT_RETURN_IF_ERROR(b.Int("threshold_tokens", &out->budget.threshold_tokens));
  COHORT_RETURN_IF_ERROR(b.Int("at_or_over", &out->budget.at_or_over));
  COHORT_RETURN_IF_ERROR(b.NullableDouble("share_at_or_over", &out->budget.share_at_or_over));
  COHORT_RETURN_IF_ERROR(b.Int("saturated_and_failed", &out->budget.saturated_and_failed));
  if (b.Has("share_saturated_and_failed")) {
    COHORT_RETURN_IF_ERROR(b.NullableDouble("share_saturated_and_failed",
                                            &out->budget.share_saturated_and_failed));
  } else if (out->budget.at_or_over > 0) {  // written before the field
    out->budget.share_saturated_and_failed =
        static_cast<double>(out->budget.saturated_and_failed) /
        static_cast<double>(out->budget.at_or_over);
  }
  COHORT_RETURN_IF_ERROR(
      l.NullableDouble("mean_completion_tokens_pass", &out->mean_completion_tokens_pass));
  COHORT_RETURN_IF_ERROR(
      l.NullableDouble("mean_completion_tokens_fail", &out->mean_completion_tokens_fail));
  COHORT_RETURN_IF_ERROR(l.Counts("finish_reasons", &out->finish_reasons));
  return l.Int("empty_completions", &out->empty_completions);
}

absl::Status ReadIfeval(const JsonFields& s, IfevalMetrics* out) {
  COHORT_RETURN_IF_ERROR(s.NullableDouble("prompt_level_strict_acc", &out->prompt_level_strict_acc));
  COHORT_RETURN_IF_ERROR(s.NullableDouble("inst_level_strict_acc", &out->inst_level_strict_acc));
  COHORT_RETURN_IF_ERROR(s.NullableDouble("prompt_level_loose_acc", &out->prompt_level_loose_acc));
  COHORT_RETURN_IF_ERROR(s.NullableDouble("inst_level_loose_acc", &out->inst_level_loose_acc));
  COHORT_RETURN_IF_ERROR(s.Int("n_instructions", &out->n_instructions));
  if (!s.Has("sentence_splitter")) return absl::OkStatus();  // written before the field
  return s.String("sentence_splitter", &out->sentence_splitter);
}

absl::Status ReadGeneration(const JsonFields& g, GenerationStats* out) {
  COHORT_RETURN_IF_ERROR(g.CheckObject());
  COHORT_RETURN_IF_ERROR(g.Int("resumed", &out->resumed));
  COHORT_RETURN_IF_ERROR(g.Int("generated", &out->generated));
  COHORT_RETURN_IF_ERROR(g.Int("failed", &out->failed));
  if (!g.Has("server")) return absl::OkStatus();
  ServerRunStats& s = out->server_run.emplace();
  COHORT_RETURN_IF_ERROR(g.String("server", &s.server));
  if (g.Has("reasoning_budget_enforced")) {  // written before the field: unknown
    COHORT_RETURN_IF_ERROR(
        g.Bool("reasoning_budget_enforced", &s.reasoning_budget_enforced.emplace()));
  }
  COHORT_RETURN_IF_ERROR(g.Int("requests_sent", &s.requests_sent));
  COHORT_RETURN_IF_ERROR(g.Int("retries", &s.retries));
  COHORT_RETURN_IF_ERROR(g.Double("wall_s", &s.wall_s));
  COHORT_RETURN_IF_ERROR(g.Double("in_flight_share", &s.in_flight_share));
  return g.Int("restarts", &s.restarts);
}

}  // namespace

ScoreSummary Summarize(const std::string& bench, const BenchSettings& settings,
                       const std::vector<ProblemResult>& results, int64_t n_expected) {
  ScoreSummary out;
  out.bench = bench;
  out.n = static_cast<int64_t>(results.size());
  for (const ProblemResult& r : results) {
    out.passed += r.passed;
    if (r.server_error()) {
      ++out.server_errors;
      ++out.server_error_kinds[r.error_kind];
    }
  }
  out.accuracy = Share(out.passed, out.n);
  out.n_expected = n_expected;
  if (!results.empty()) out.scorer_version = results.front().scorer_version;
  if (bench == "ifeval") out.ifeval = IfevalMetricsOf(results);
  out.length = LengthStatsOf(settings, results);
  return out;
}

json ScoreSummaryToJson(const ScoreSummary& s) {
  json out = {{"bench", s.bench},
              {"n", s.n},
              {"passed", s.passed},
              {"accuracy", Nullable(s.accuracy)},
              {"n_expected", s.n_expected},
              {"n_missing_from_subset", s.n_missing_from_subset},
              {"server_errors", s.server_errors},
              {"server_error_kinds", s.server_error_kinds},
              {"length", LengthToJson(s.length)},
              {"profile", s.profile},
              {"profile_digest", s.profile_digest}};
  if (s.scorer_version) out["scorer_version"] = *s.scorer_version;
  if (const std::optional<IfevalMetrics>& m = s.ifeval) {
    out["prompt_level_strict_acc"] = Nullable(m->prompt_level_strict_acc);
    out["inst_level_strict_acc"] = Nullable(m->inst_level_strict_acc);
    out["prompt_level_loose_acc"] = Nullable(m->prompt_level_loose_acc);
    out["inst_level_loose_acc"] = Nullable(m->inst_level_loose_acc);
    out["n_instructions"] = m->n_instructions;
    out["sentence_splitter"] = m->sentence_splitter;
  }
  if (s.generation) out["generation"] = GenerationToJson(*s.generation);
  return out;
}

std::string ScoreSummaryToText(const ScoreSummary& summary) {
  return ScoreSummaryToJson(summary).dump(2, ' ', false, json::error_handler_t::replace);
}

absl::StatusOr<ScoreSummary> ScoreSummaryFromJson(const json& j) {
  JsonFields s(j, "summary");
  COHORT_RETURN_IF_ERROR(s.CheckObject());
  ScoreSummary out;
  COHORT_RETURN_IF_ERROR(s.String("bench", &out.bench));
  COHORT_RETURN_IF_ERROR(s.Int("n", &out.n));
  COHORT_RETURN_IF_ERROR(s.Int("passed", &out.passed));
  COHORT_RETURN_IF_ERROR(s.NullableDouble("accuracy", &out.accuracy));
  COHORT_RETURN_IF_ERROR(s.Int("n_expected", &out.n_expected));
  COHORT_RETURN_IF_ERROR(s.Int("n_missing_from_subset", &out.n_missing_from_subset));
  if (s.Has("server_errors")) {  // written before the field: none counted
    COHORT_RETURN_IF_ERROR(s.Int("server_errors", &out.server_errors));
    COHORT_RETURN_IF_ERROR(s.Counts("server_error_kinds", &out.server_error_kinds));
  }
  COHORT_RETURN_IF_ERROR(s.Require("length"));
  COHORT_RETURN_IF_ERROR(ReadLength(s.Child("length"), &out.length));
  COHORT_RETURN_IF_ERROR(s.String("profile", &out.profile));
  COHORT_RETURN_IF_ERROR(s.String("profile_digest", &out.profile_digest));
  if (s.Has("scorer_version")) {
    COHORT_RETURN_IF_ERROR(s.String("scorer_version", &out.scorer_version.emplace()));
  }
  if (s.Has("n_instructions")) COHORT_RETURN_IF_ERROR(ReadIfeval(s, &out.ifeval.emplace()));
  if (s.Has("generation")) {
    COHORT_RETURN_IF_ERROR(ReadGeneration(s.Child("generation"), &out.generation.emplace()));
  }
  return out;
}

}  // namespace cohort::worker::eval
