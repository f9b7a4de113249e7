// The numbers below are worked out by hand from the fixture, not by the code.
#include "client/report/report.h"

#include "client/report/render.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::client::report {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

Row R(const std::string& model, const std::string& id, Verdict v, uint64_t tokens,
      uint64_t chars, uint64_t reasoning_chars = 0, const std::string& finish = "stop") {
  Row r;
  r.model = model;
  r.suite = "gsm8k";
  r.problem_id = id;
  r.verdict = v;
  r.completion_tokens = tokens;
  r.completion_chars = chars;
  r.reasoning_chars = reasoning_chars;
  r.finish_reason = finish;
  return r;
}

std::vector<Row> Fixture() {
  const Verdict P = Verdict::kPass, F = Verdict::kFail;
  return {R("A", "p1", P, 100, 10), R("A", "p2", P, 200, 20, 5), R("A", "p3", F, 300, 30),
          R("A", "p4", F, 12288, 1000, 0, "length"),
          R("ref", "p1", P, 50, 5), R("ref", "p2", F, 60, 6), R("ref", "p3", F, 12000, 7),
          R("ref", "p4", F, 80, 8),
          R("A", "p5", Verdict::kUnscored, 1, 1)};  // not scored: ignored
}

TEST(ReportTest, ScoreboardAndDelta) {
  Scoreboard board = BuildScoreboard(Fixture(), {"A"}, {"ref"});
  EXPECT_THAT(board.models, ElementsAre("A", "ref"));
  const Cell* a = board.Find("gsm8k", "A");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->n, 4u);
  EXPECT_EQ(a->passed, 2u);
  EXPECT_DOUBLE_EQ(board.Delta("gsm8k", "A", "ref").value(), 25.0);  // 50% - 25%
  std::string md = RenderScoreboard(board, Format::kMarkdown);
  EXPECT_THAT(md, HasSubstr("| bench | n | A | ref | Δ A vs ref |"));
  EXPECT_THAT(md, HasSubstr("| gsm8k | 4 | 50.0 | 25.0 | +25.0 |"));
  std::string csv = RenderScoreboard(board, Format::kCsv);
  EXPECT_THAT(csv, HasSubstr("gsm8k,A,4,2,0.5000,25.0"));
  EXPECT_THAT(RenderScoreboard(board, Format::kJson), HasSubstr("\"accuracy\": 0.25"));
}

// The tier table: a quantize step's facts, joined with the scoreboard.
TEST(ReportTest, TiersFromQuantizeFacts) {
  std::optional<Tier> a = TierFromFacts(
      "A", R"({"type":"Q6_K","file_bytes":21900000000,"parameters":25000000000,)"
           R"("bits_per_weight":6.5625,"tensor_types":{"q6_K":400}})");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->type, "Q6_K");
  EXPECT_EQ(a->file_bytes, 21900000000u);
  EXPECT_DOUBLE_EQ(a->bits_per_weight, 6.5625);
  // Not a quantize step's facts: no row, never an error.
  EXPECT_FALSE(TierFromFacts("A", "").has_value());
  EXPECT_FALSE(TierFromFacts("A", "[[[").has_value());
  EXPECT_FALSE(TierFromFacts("A", R"({"type":"Q6_K","file_bytes":-1,"parameters":1,)"
                                  R"("bits_per_weight":1})").has_value());
  EXPECT_FALSE(TierFromFacts("A", R"({"bits_per_weight":6.5})").has_value());
  // A quantize with a generated map, and one with hand-written rules.
  std::optional<Tier> mapped = TierFromFacts(
      "B", R"({"type":"Q6_K","file_bytes":1,"parameters":1,"bits_per_weight":6.1,)"
           R"("tensor_rules":30,"quant_map_target_bpw":5.5})");
  ASSERT_TRUE(mapped.has_value());
  EXPECT_EQ(mapped->Label(), "Q6_K + map 5.50");
  std::optional<Tier> ruled = TierFromFacts(
      "C", R"({"type":"Q4_K_M","file_bytes":1,"parameters":1,"bits_per_weight":5,)"
           R"("tensor_rules":1})");
  ASSERT_TRUE(ruled.has_value());
  EXPECT_EQ(ruled->Label(), "Q4_K_M + 1 rule");
  EXPECT_EQ(a->Label(), "Q6_K");

  Scoreboard board = BuildScoreboard(Fixture(), {"A"}, {"ref"});
  Tier small{"ref", "Q4_K_M", 412500000, 700000000, 4.89};
  std::vector<Tier> tiers = {*a, small};
  std::string md = RenderTiers(tiers, board, Format::kMarkdown);
  EXPECT_THAT(md, HasSubstr("| model | tier | size | BPW | gsm8k |"));
  EXPECT_THAT(md, HasSubstr("| A | Q6_K | 21.9 GB | 6.56 | 50.0 |"));
  EXPECT_THAT(md, HasSubstr("| ref | Q4_K_M | 412.5 MB | 4.89 | 25.0 |"));
  std::string csv = RenderTiers(tiers, board, Format::kCsv);
  EXPECT_THAT(csv, HasSubstr("model,tier,file_bytes,parameters,bits_per_weight,gsm8k"));
  EXPECT_THAT(csv, HasSubstr("A,Q6_K,21900000000,25000000000,6.5625,0.5000"));
  std::string json = RenderTiers(tiers, board, Format::kJson);
  EXPECT_THAT(json, HasSubstr("\"bits_per_weight\": 4.89"));
  EXPECT_THAT(json, HasSubstr("\"gsm8k\": 0.25"));
}

TEST(ReportTest, Percentiles) {
  EXPECT_EQ(Percentile({}, 50), 0u);
  EXPECT_EQ(Percentile({30, 10, 20, 40}, 50), 20u);   // rank ceil(2) = 2
  EXPECT_EQ(Percentile({30, 10, 20, 40}, 90), 40u);   // rank ceil(3.6) = 4
  EXPECT_EQ(Percentile({5}, 90), 5u);
  EXPECT_EQ(Percentile({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 90), 9u);  // rank 9
}

TEST(ReportTest, Lengths) {
  auto stats = BuildLengths(Fixture(), 12000);
  const LengthStats& a = stats.at({"A", "gsm8k"});
  EXPECT_EQ(a.n, 4u);
  EXPECT_EQ(a.chars_p50, 25u);  // sorted 10, 25, 30, 1000
  EXPECT_EQ(a.chars_p90, 1000u);
  EXPECT_EQ(a.tokens_p50, 200u);
  EXPECT_EQ(a.tokens_max, 12288u);
  EXPECT_EQ(a.saturated, 1u);
  EXPECT_EQ(a.saturated_and_failed, 1u);
  EXPECT_DOUBLE_EQ(a.mean_tokens_pass, 150.0);   // (100 + 200) / 2
  EXPECT_DOUBLE_EQ(a.mean_tokens_fail, 6294.0);  // (300 + 12288) / 2
  const LengthStats& ref = stats.at({"ref", "gsm8k"});
  EXPECT_EQ(ref.saturated, 1u);  // 12000 tokens reaches the threshold
  EXPECT_EQ(ref.saturated_and_failed, 1u);
  EXPECT_DOUBLE_EQ(ref.mean_tokens_fail, (60 + 12000 + 80) / 3.0);
  EXPECT_THAT(RenderLengths(stats, Format::kMarkdown), HasSubstr("| A | gsm8k | 4 | 25 | 1000 |"));
}

// A verdict-error row (a server error) stays in n, is not a wrong answer,
// and shows up apart; without such rows the output is as before.
TEST(ReportTest, ServerErrorsShownApart) {
  std::vector<Row> rows = Fixture();
  Row err = R("A", "p6", Verdict::kError, 0, 0, 0, "error");
  err.details_json = R"({"id": "p6", "error": "The model produced output that does not match the expected peg-native format", "error_kind": "500 peg-native format"})";
  rows.push_back(err);
  Scoreboard board = BuildScoreboard(rows, {"A"}, {"ref"});
  const Cell* a = board.Find("gsm8k", "A");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->n, 5u);
  EXPECT_EQ(a->passed, 2u);
  EXPECT_EQ(a->server_errors, 1u);
  EXPECT_EQ(a->server_error_kinds.at("500 peg-native format"), 1u);
  std::string md = RenderScoreboard(board, Format::kMarkdown);
  EXPECT_THAT(md, HasSubstr("| gsm8k | 5 | 40.0 | 25.0 (n=4) | +15.0 |"));
  EXPECT_THAT(md, HasSubstr("\nServer errors: gsm8k / A: 1 of 5 (500 peg-native format 1); "
                            "in n, not wrong answers\n"));
  EXPECT_THAT(RenderScoreboard(board, Format::kCsv),
              HasSubstr("suite,model,n,passed,accuracy,delta_vs_ref,server_errors\n"
                        "gsm8k,A,5,2,0.4000,15.0,1\n"));
  EXPECT_THAT(RenderScoreboard(board, Format::kJson), HasSubstr("\"server_errors\": 1"));

  auto stats = BuildLengths(rows, 12000);
  const LengthStats& len = stats.at({"A", "gsm8k"});
  EXPECT_EQ(len.n, 5u);
  EXPECT_EQ(len.server_errors, 1u);
  EXPECT_EQ(len.failures, 2u);                   // the wrong answers only
  EXPECT_DOUBLE_EQ(len.mean_tokens_fail, 6294.0);  // unchanged by the error row
  EXPECT_EQ(len.chars_p50, 25u);
  EXPECT_THAT(RenderLengths(stats, Format::kMarkdown),
              HasSubstr("\nServer errors: A / gsm8k: 1 of 5; not in the lengths, not counted "
                        "as failures\n"));
  EXPECT_THAT(RenderLengths(stats, Format::kCsv), HasSubstr(",server errors\n"));

  // No error rows: no note, no extra column.
  Scoreboard clean = BuildScoreboard(Fixture(), {"A"}, {"ref"});
  EXPECT_THAT(RenderScoreboard(clean, Format::kMarkdown),
              ::testing::Not(HasSubstr("Server errors")));
  EXPECT_THAT(RenderScoreboard(clean, Format::kCsv), ::testing::Not(HasSubstr("server_errors")));
  EXPECT_THAT(RenderScoreboard(clean, Format::kJson), ::testing::Not(HasSubstr("server_errors")));
  EXPECT_THAT(RenderLengths(BuildLengths(Fixture(), 12000), Format::kMarkdown),
              ::testing::Not(HasSubstr("Server errors")));
}

TEST(ReportTest, CompareFlips) {
  std::map<std::string, Flips> flips = Compare(Fixture(), "A", "ref");
  const Flips& f = flips.at("gsm8k");
  EXPECT_THAT(f.wins, ElementsAre("p2"));
  EXPECT_TRUE(f.losses.empty());
  EXPECT_EQ(f.both_pass, 1u);
  EXPECT_EQ(f.both_fail, 2u);
  EXPECT_THAT(RenderCompare(flips, "A", "ref", Format::kMarkdown, true),
              HasSubstr("gsm8k wins: p2"));
}

// The same fixture from the other side: A's win is ref's loss. (A mutation
// that never recorded losses passed every test before this one.)
TEST(ReportTest, CompareRecordsLossesAndOneSidedProblems) {
  std::vector<Row> rows = Fixture();
  rows.push_back(R("ref", "p6", Verdict::kPass, 10, 1));  // ref only
  std::map<std::string, Flips> flips = Compare(rows, "ref", "A");
  const Flips& f = flips.at("gsm8k");
  EXPECT_TRUE(f.wins.empty());
  EXPECT_THAT(f.losses, ElementsAre("p2"));
  EXPECT_EQ(f.both_pass, 1u);
  EXPECT_EQ(f.both_fail, 2u);
  EXPECT_EQ(f.only_a, 1u);  // p6 for ref, the first model
  EXPECT_EQ(f.only_b, 0u);
  EXPECT_THAT(RenderCompare(flips, "ref", "A", Format::kMarkdown, true),
              HasSubstr("gsm8k losses: p2"));
}

}  // namespace
}  // namespace cohort::client::report
