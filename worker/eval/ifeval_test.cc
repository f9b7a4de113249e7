#include "worker/eval/ifeval.h"

#include <cstdio>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/eval/score.h"
#include "worker/eval/test_util.h"

namespace cohort::worker::eval {
namespace {

using ::testing::ElementsAre;

TEST(IfevalTest, LooseVariantsInUpstreamOrder) {
  EXPECT_THAT(IfevalLooseVariants("Sure!\n*body*\nBye"),
              ElementsAre("Sure!\n*body*\nBye", "Sure!\nbody\nBye", "*body*\nBye",
                          "Sure!\n*body*", "*body*", "body\nBye", "Sure!\nbody", "body"));
}

TEST(IfevalTest, StrictAndLoose) {
  Problem p;
  p.meta["instruction_id_list"] = {"startend:quotation", "punctuation:no_comma"};
  p.meta["kwargs"] = {nlohmann::json::object(), nlohmann::json::object()};
  BenchSettings s = CardSettings("ifeval");
  Verdict strict_pass = ScoreIfeval(p, "\"quoted\"", s);
  EXPECT_TRUE(strict_pass.passed);
  Verdict loose_only = ScoreIfeval(p, "Here you go:\n\"quoted\"", s);
  EXPECT_FALSE(loose_only.passed);
  EXPECT_EQ(loose_only.detail["strict"], nlohmann::json({false, true}));
  EXPECT_EQ(loose_only.detail["loose"], nlohmann::json({true, true}));
  Verdict empty = ScoreIfeval(p, "   ", s);
  EXPECT_EQ(empty.detail["strict"], nlohmann::json({false, false}));
  EXPECT_EQ(empty.detail["loose"], nlohmann::json({false, false}));
}

// The published GPT-4 responses (2023-11-07). The IFEval paper (Zhou et al.
// 2023, Table 3) reports for GPT-4: prompt-level strict 76.89%, inst-level
// strict 83.57%, prompt-level loose 79.30%, inst-level loose 85.37%; neither
// docs/protocol.md nor data/ifeval/PROVENANCE.md gives numbers. cohort's
// checkers replace langdetect, punkt and word_tokenize (docs/benches.md), so
// small differences are expected; the bounds pin the current values.
TEST(IfevalTest, PublishedGpt4ResponsesMatchThePaper) {
  BenchSettings s = CardSettings("ifeval");
  ASSERT_OK_AND_ASSIGN(std::vector<Problem> problems,
                       LoadIfeval(DatasetPath("ifeval/input_data.jsonl"), s));
  ASSERT_EQ(problems.size(), 541u);
  ASSERT_OK_AND_ASSIGN(
      std::vector<CompletionRow> rows,
      ReadCompletions(DatasetPath("ifeval/input_response_data_gpt4_20231107_145030.jsonl")));
  ASSERT_OK_AND_ASSIGN(ScoreRun run,
                       ScoreCompletions(*FindBench("ifeval"), s, problems, rows, "gpt4"));
  const nlohmann::json& m = run.summary;
  EXPECT_EQ(m["n"], 541);
  EXPECT_EQ(m["n_instructions"], 834);
  std::printf("IFEval GPT-4: prompt strict %.4f inst strict %.4f prompt loose %.4f "
              "inst loose %.4f\n",
              m["prompt_level_strict_acc"].get<double>(), m["inst_level_strict_acc"].get<double>(),
              m["prompt_level_loose_acc"].get<double>(), m["inst_level_loose_acc"].get<double>());
  EXPECT_NEAR(m["prompt_level_strict_acc"].get<double>(), 0.7689, 0.02);
  EXPECT_NEAR(m["inst_level_strict_acc"].get<double>(), 0.8357, 0.02);
  EXPECT_NEAR(m["prompt_level_loose_acc"].get<double>(), 0.7930, 0.02);
  EXPECT_NEAR(m["inst_level_loose_acc"].get<double>(), 0.8537, 0.02);
}

}  // namespace
}  // namespace cohort::worker::eval
