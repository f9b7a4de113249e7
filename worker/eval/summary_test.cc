#include "worker/eval/summary.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::worker::eval {
namespace {

using ::cohort::testing::IsOk;
using ::cohort::testing::StatusIs;
using ::testing::HasSubstr;
using json = nlohmann::json;

// Every field set, each to a value no other field has and none a default.
ScoreSummary EveryFieldSet() {
  ScoreSummary s;
  s.bench = "ifeval";
  s.n = 11;
  s.passed = 7;
  s.accuracy = 0.625;
  s.n_expected = 13;
  s.n_missing_from_subset = 2;
  s.server_errors = 3;
  s.server_error_kinds = {{"500 peg-native format", 2}, {"timeout", 1}};
  s.scorer_version = "ifeval-google-2024";
  s.ifeval = IfevalMetrics{0.125, 0.25, 0.375, 0.5, 17, "punkt-english"};
  s.length.completion_chars = Percentiles{8, 101, 190, 250};
  s.length.reasoning_chars = Percentiles{9, 1001, 1900, 2500};
  s.length.completion_tokens = Percentiles{10, 31, 90, 120};
  s.length.reasoning_tokens = Percentiles{12, 301, 900, 12288};
  s.length.budget = BudgetStats{12288, 4, 0.375, 3, 0.75};
  s.length.mean_completion_tokens_pass = 40.5;
  s.length.mean_completion_tokens_fail = 99.25;
  s.length.finish_reasons = {{"length", 4}, {"stop", 5}};
  s.length.empty_completions = 1;
  s.profile = "omk-card-2026-07";
  s.profile_digest = "sha256:ab12";
  s.generation = GenerationStats{5, 6, 1, ServerRunStats{"llama.cpp b6000 model.gguf", true,
                                                         14, 2, 81.5, 0.875, 1}};
  return s;
}

void ExpectSame(const std::optional<Percentiles>& a, const std::optional<Percentiles>& b,
                const char* what) {
  ASSERT_EQ(a.has_value(), b.has_value()) << what;
  if (!a) return;
  EXPECT_EQ(a->n, b->n) << what;
  EXPECT_EQ(a->p50, b->p50) << what;
  EXPECT_EQ(a->p90, b->p90) << what;
  EXPECT_EQ(a->max, b->max) << what;
}

void ExpectSame(const ScoreSummary& a, const ScoreSummary& b) {
  EXPECT_EQ(a.bench, b.bench);
  EXPECT_EQ(a.n, b.n);
  EXPECT_EQ(a.passed, b.passed);
  EXPECT_EQ(a.accuracy, b.accuracy);
  EXPECT_EQ(a.n_expected, b.n_expected);
  EXPECT_EQ(a.n_missing_from_subset, b.n_missing_from_subset);
  EXPECT_EQ(a.server_errors, b.server_errors);
  EXPECT_EQ(a.server_error_kinds, b.server_error_kinds);
  EXPECT_EQ(a.scorer_version, b.scorer_version);
  ASSERT_EQ(a.ifeval.has_value(), b.ifeval.has_value());
  if (a.ifeval) {
    EXPECT_EQ(a.ifeval->prompt_level_strict_acc, b.ifeval->prompt_level_strict_acc);
    EXPECT_EQ(a.ifeval->inst_level_strict_acc, b.ifeval->inst_level_strict_acc);
    EXPECT_EQ(a.ifeval->prompt_level_loose_acc, b.ifeval->prompt_level_loose_acc);
    EXPECT_EQ(a.ifeval->inst_level_loose_acc, b.ifeval->inst_level_loose_acc);
    EXPECT_EQ(a.ifeval->n_instructions, b.ifeval->n_instructions);
    EXPECT_EQ(a.ifeval->sentence_splitter, b.ifeval->sentence_splitter);
  }
  ExpectSame(a.length.completion_chars, b.length.completion_chars, "completion_chars");
  ExpectSame(a.length.reasoning_chars, b.length.reasoning_chars, "reasoning_chars");
  ExpectSame(a.length.completion_tokens, b.length.completion_tokens, "completion_tokens");
  ExpectSame(a.length.reasoning_tokens, b.length.reasoning_tokens, "reasoning_tokens");
  EXPECT_EQ(a.length.budget.threshold_tokens, b.length.budget.threshold_tokens);
  EXPECT_EQ(a.length.budget.at_or_over, b.length.budget.at_or_over);
  EXPECT_EQ(a.length.budget.share_at_or_over, b.length.budget.share_at_or_over);
  EXPECT_EQ(a.length.budget.saturated_and_failed, b.length.budget.saturated_and_failed);
  EXPECT_EQ(a.length.budget.share_saturated_and_failed,
            b.length.budget.share_saturated_and_failed);
  EXPECT_EQ(a.length.mean_completion_tokens_pass, b.length.mean_completion_tokens_pass);
  EXPECT_EQ(a.length.mean_completion_tokens_fail, b.length.mean_completion_tokens_fail);
  EXPECT_EQ(a.length.finish_reasons, b.length.finish_reasons);
  EXPECT_EQ(a.length.empty_completions, b.length.empty_completions);
  EXPECT_EQ(a.profile, b.profile);
  EXPECT_EQ(a.profile_digest, b.profile_digest);
  ASSERT_EQ(a.generation.has_value(), b.generation.has_value());
  if (!a.generation) return;
  EXPECT_EQ(a.generation->resumed, b.generation->resumed);
  EXPECT_EQ(a.generation->generated, b.generation->generated);
  EXPECT_EQ(a.generation->failed, b.generation->failed);
  ASSERT_EQ(a.generation->server_run.has_value(), b.generation->server_run.has_value());
  if (!a.generation->server_run) return;
  const ServerRunStats& x = *a.generation->server_run;
  const ServerRunStats& y = *b.generation->server_run;
  EXPECT_EQ(x.server, y.server);
  EXPECT_EQ(x.reasoning_budget_enforced, y.reasoning_budget_enforced);
  EXPECT_EQ(x.requests_sent, y.requests_sent);
  EXPECT_EQ(x.retries, y.retries);
  EXPECT_EQ(x.wall_s, y.wall_s);
  EXPECT_EQ(x.in_flight_share, y.in_flight_share);
  EXPECT_EQ(x.restarts, y.restarts);
}

ScoreSummary RoundTrip(const ScoreSummary& s) {
  json parsed = json::parse(ScoreSummaryToText(s));
  absl::StatusOr<ScoreSummary> back = ScoreSummaryFromJson(parsed);
  EXPECT_THAT(back.status(), IsOk());
  return back.ok() ? *back : ScoreSummary{};
}

TEST(SummaryTest, EveryFieldRoundTripsThroughTheText) {
  const ScoreSummary all = EveryFieldSet();
  ExpectSame(RoundTrip(all), all);
}

TEST(SummaryTest, AbsentPartsStayAbsent) {
  ScoreSummary none;  // nothing scored: no shares, no percentiles, no ifeval
  none.bench = "gsm8k";
  ScoreSummary back = RoundTrip(none);
  ExpectSame(back, none);
  ScoreSummary resumed = EveryFieldSet();
  resumed.generation->server_run.reset();  // a fully resumed bench sent nothing
  ExpectSame(RoundTrip(resumed), resumed);
}

// The format readers already rely on (the gate of older campaigns' cached
// summary.json, people's scripts): names, nesting and nulls.
TEST(SummaryTest, WritesTheEstablishedFormat) {
  ScoreSummary none;
  none.bench = "gsm8k";
  json j = ScoreSummaryToJson(none);
  EXPECT_TRUE(j["accuracy"].is_null());
  EXPECT_TRUE(j["length"]["completion_tokens"].is_null());
  EXPECT_TRUE(j["length"]["budget"]["share_at_or_over"].is_null());
  EXPECT_FALSE(j.contains("scorer_version"));
  EXPECT_FALSE(j.contains("prompt_level_strict_acc"));
  EXPECT_FALSE(j.contains("generation"));
  json all = ScoreSummaryToJson(EveryFieldSet());
  EXPECT_EQ(all["prompt_level_strict_acc"], 0.125);  // IFEval's metrics at the top
  EXPECT_EQ(all["length"]["budget"]["share_saturated_and_failed"], 0.75);
  EXPECT_EQ(all["length"]["reasoning_tokens"]["max"], 12288);
  EXPECT_EQ(all["generation"]["requests_sent"], 14);
  EXPECT_EQ(all["generation"]["server"], "llama.cpp b6000 model.gguf");
  EXPECT_EQ(all["server_error_kinds"]["timeout"], 1);
}

// A summary.json from before some fields existed (a cache can hold one):
// those read as absent or are computed; the rest is still required.
TEST(SummaryTest, ASummaryFromBeforeTheNewerFieldsReads) {
  json old = ScoreSummaryToJson(EveryFieldSet());
  old.erase("server_errors");
  old.erase("server_error_kinds");
  old.erase("sentence_splitter");
  old["length"]["budget"].erase("share_saturated_and_failed");
  old["generation"].erase("reasoning_budget_enforced");
  ASSERT_OK_AND_ASSIGN(ScoreSummary read, ScoreSummaryFromJson(old));
  EXPECT_EQ(read.server_errors, 0);
  EXPECT_TRUE(read.server_error_kinds.empty());
  EXPECT_EQ(read.ifeval->sentence_splitter, "");
  EXPECT_EQ(read.length.budget.share_saturated_and_failed, 0.75);  // 3 of 4 saturated
  EXPECT_FALSE(read.generation->server_run->reasoning_budget_enforced.has_value());
  EXPECT_FALSE(ScoreSummaryToJson(read)["generation"].contains("reasoning_budget_enforced"));
  old.erase("passed");
  EXPECT_THAT(ScoreSummaryFromJson(old).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("summary.passed is missing")));
}

TEST(SummaryTest, ABadSummaryNamesItsField) {
  json j = ScoreSummaryToJson(EveryFieldSet());
  json wrong = j;
  wrong["length"]["budget"]["at_or_over"] = "4";
  EXPECT_THAT(ScoreSummaryFromJson(wrong).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("summary.length.budget.at_or_over is string, not an integer")));
  json missing = j;
  missing.erase("n");
  EXPECT_THAT(ScoreSummaryFromJson(missing).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("summary.n is missing")));
  json bad_kind = j;
  bad_kind["server_error_kinds"]["timeout"] = 1.5;
  EXPECT_THAT(ScoreSummaryFromJson(bad_kind).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("summary.server_error_kinds.timeout is number")));
  json bad_run = j;
  bad_run["generation"]["wall_s"] = nullptr;
  EXPECT_THAT(ScoreSummaryFromJson(bad_run).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("summary.generation.wall_s is null, not a number")));
  EXPECT_THAT(ScoreSummaryFromJson(json::array()).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("summary is array")));
}

ProblemResult Row(bool passed, int64_t tokens, bool at_budget, std::string finish) {
  ProblemResult r;
  r.passed = passed;
  r.completion_tokens = tokens;
  r.at_budget = at_budget;
  r.finish_reason = std::move(finish);
  r.completion_chars = tokens * 4;
  r.scored_channel = "content";
  return r;
}

TEST(SummaryTest, SummarizeCountsTheCardsMeasures) {
  BenchSettings settings;
  std::vector<ProblemResult> rows = {Row(true, 10, false, "stop"), Row(false, 30, true, "length"),
                                     Row(true, 20, true, "length"), Row(false, 40, false, "stop")};
  rows.push_back(ProblemResult{});
  rows.back().error_kind = "500 peg-native format";  // a server error: no answer to measure
  ScoreSummary s = Summarize("gsm8k", settings, rows, 10);
  EXPECT_EQ(s.n, 5);
  EXPECT_EQ(s.passed, 2);
  EXPECT_EQ(s.accuracy, 0.4);
  EXPECT_EQ(s.server_errors, 1);
  ASSERT_TRUE(s.length.completion_tokens.has_value());
  EXPECT_EQ(s.length.completion_tokens->n, 4);
  EXPECT_EQ(s.length.completion_tokens->p50, 25);  // median 25.0, cast to int
  EXPECT_EQ(s.length.completion_tokens->p90, 40);  // sorted[4 * 9 / 10] = sorted[3]
  EXPECT_EQ(s.length.budget.at_or_over, 2);
  EXPECT_EQ(s.length.budget.share_at_or_over, 0.4);  // of n
  EXPECT_EQ(s.length.budget.saturated_and_failed, 1);
  EXPECT_EQ(s.length.budget.share_saturated_and_failed, 0.5);  // of the saturated
  EXPECT_EQ(s.length.mean_completion_tokens_pass, 15.0);
  EXPECT_EQ(s.length.mean_completion_tokens_fail, 35.0);
  EXPECT_FALSE(s.length.reasoning_tokens.has_value());
  EXPECT_FALSE(s.ifeval.has_value());
}

}  // namespace
}  // namespace cohort::worker::eval
