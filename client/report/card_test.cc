// The card layout with numbers worked out by hand (the seed card's style:
// "95.82%", "+0.09", "54 / 55 (98.2%)", "8 / 54 (15%)").
#include "client/report/card.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::client::report {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// `passed` passes and n - passed fails of `model` on `suite`.
void Add(std::vector<Row>* rows, const std::string& model, const std::string& suite, int n,
         int passed) {
  for (int i = 0; i < n; ++i) {
    Row r;
    r.model = model;
    r.suite = suite;
    r.problem_id = std::to_string(i);
    r.verdict = i < passed ? Verdict::kPass : Verdict::kFail;
    r.finish_reason = "stop";
    rows->push_back(r);
  }
}

TEST(CardTest, LabelsAndProtocolOrder) {
  EXPECT_EQ(CardLabel("gsm8k-100", 100), "GSM8K-100 flex");
  EXPECT_EQ(CardLabel("arc_challenge", 1172), "ARC-Challenge (1172)");
  EXPECT_EQ(CardLabel("ifeval", 541), "IFEval prompt_strict (541)");
  EXPECT_EQ(CardLabel("humaneval_plus", 164), "HumanEval+ (164)");
  EXPECT_EQ(CardLabel("humaneval", 164), "HumanEval (164)");
  EXPECT_EQ(CardLabel("lcb-medium-55", 55), "LCB-medium-55");
  EXPECT_EQ(CardLabel("multipl-e-rs", 100), "MultiPL-E Rust (100)");
  EXPECT_EQ(CardLabel("my-own-suite", 7), "my-own-suite (7)");
  EXPECT_LT(ProtocolRank("arc_challenge"), ProtocolRank("gsm8k-100"));
  EXPECT_LT(ProtocolRank("gsm8k-100"), ProtocolRank("humaneval"));
  EXPECT_LT(ProtocolRank("humaneval_plus"), ProtocolRank("lcb-medium-55"));
  EXPECT_LT(ProtocolRank("multipl-e-js"), ProtocolRank("my-own-suite"));
}

TEST(CardTest, ScoreboardLaidOutLikeTheCard) {
  std::vector<Row> rows;
  // Suites first seen out of protocol order; the reference last in the spec.
  Add(&rows, "v5", "gsm8k-100", 100, 95);
  Add(&rows, "base", "gsm8k-100", 100, 96);
  Add(&rows, "v5", "arc_challenge", 1172, 1124);
  Add(&rows, "base", "arc_challenge", 1172, 1123);
  Scoreboard board = BuildScoreboard(rows, {"v5", "base"}, {"base"});
  EXPECT_EQ(RenderCardScoreboard(board),
            "| Bench | base | v5 | Δ v5 vs base |\n"
            "|---|---:|---:|---:|\n"
            "| ARC-Challenge (1172) | 95.82% | 95.90% | +0.09 |\n"
            "| GSM8K-100 flex | 96.00% | 95.00% | -1.00 |\n"
            "\nAccuracy: problems passed of the bench's n (the label's count), each model over "
            "its own answers; a server error counts as not passed. IFEval is prompt-level "
            "strict accuracy. Δ: accuracy minus the reference's, in percentage points.\n");
}

TEST(CardTest, LengthTablesUseTheCardsDefinitions) {
  std::map<std::pair<std::string, std::string>, LengthStats> stats;
  LengthStats v5;
  v5.n = 55;
  v5.chars_p50 = 4120, v5.chars_p90 = 30111, v5.chars_max = 48000;
  v5.tokens_p50 = 1200, v5.tokens_p90 = 12288, v5.tokens_max = 12299;
  v5.saturated = 54;
  v5.saturated_and_failed = 8;
  v5.passes = 46, v5.failures = 9;
  v5.mean_tokens_pass = 11950.4, v5.mean_tokens_fail = 12288;
  LengthStats base = v5;
  base.saturated = 10;
  base.saturated_and_failed = 0;
  base.passes = 0;  // no pass: its mean is a dash
  stats[{"v5", "lcb-medium-55"}] = v5;
  stats[{"base", "lcb-medium-55"}] = base;
  const std::string md = RenderCardLengths(stats, {"v5", "base"}, 12000);
  EXPECT_THAT(md, HasSubstr("**Answer length, characters (p50 / p90 / max)**\n\n"
                            "| Bench | v5 | base |\n|---|---:|---:|\n"
                            "| LCB-medium-55 | 4120 / 30111 / 48000 | 4120 / 30111 / 48000 |\n"));
  EXPECT_THAT(md, HasSubstr("| LCB-medium-55 | 1200 / 12288 / 12299 | 1200 / 12288 / 12299 |"));
  EXPECT_THAT(md, HasSubstr("| LCB-medium-55 | 54 / 55 (98.2%) | 10 / 55 (18.2%) |"));
  // A share of the saturated outputs, not of n: 8 / 54 is 15%, not 8 / 55.
  EXPECT_THAT(md, HasSubstr("| LCB-medium-55 | 8 / 54 (15%) | 0 / 10 (0%) |"));
  EXPECT_THAT(md, HasSubstr("| LCB-medium-55 | 11950 / 12288 | — / 12288 |"));
  EXPECT_THAT(md, HasSubstr("thinking budget (12000 tokens or more)"));
}

TEST(CardTest, ServerErrorsAreLeftOutOfTheSaturationShare) {
  std::map<std::pair<std::string, std::string>, LengthStats> stats;
  LengthStats s;
  s.n = 50;
  s.server_errors = 2;
  s.saturated = 12;
  s.saturated_and_failed = 3;
  stats[{"m", "gsm8k-50"}] = s;
  const std::string md = RenderCardLengths(stats, {"m"}, 12000);
  EXPECT_THAT(md, HasSubstr("| GSM8K-50 flex | 12 / 48 (25.0%) |"));
  EXPECT_THAT(md, HasSubstr("| GSM8K-50 flex | 3 / 12 (25%) |"));
}

TEST(CardTest, RecipesAtAGlanceOneColumnPerClass) {
  auto recipe = [](nlohmann::json weights, double alpha) {
    return nlohmann::json{{"dropmap", {{"target", 12}, {"protect_top", 2},
                                       {"class_weights", weights}}},
                          {"upweight", {{"alpha", alpha}}},
                          {"quantize", {{"type", "Q8_0"}}}};
  };
  std::vector<RecipeRow> rows = {{"even", recipe({1, 1, 1}, 1.0)},
                                 {"coder", recipe({1, 3, 0.5}, 1.2)}};
  std::string md = RenderCardRecipes(rows, {"math", "code", "creative"});
  EXPECT_THAT(md, HasSubstr("| Variant | math | code | creative | experts kept | "
                            "upweight.alpha | quant |"));
  EXPECT_THAT(md, HasSubstr("| even | 1 | 1 | 1 | 12 | 1 | Q8_0 |"));
  EXPECT_THAT(md, HasSubstr("| coder | 1 | 3 | 0.5 | 12 | 1.2 | Q8_0 |"));
  // protect_top is the same everywhere: not a column.
  EXPECT_THAT(md, Not(HasSubstr("protect_top")));
  // Without class names (or a count that does not match) the weights are one column.
  std::string plain = RenderCardRecipes(rows, {});
  EXPECT_THAT(plain, HasSubstr("| coder | 1 3 0.5 | 12 | 1.2 | Q8_0 |"));
  EXPECT_EQ(RenderCardRecipes({}, {}), "");
}

}  // namespace
}  // namespace cohort::client::report
