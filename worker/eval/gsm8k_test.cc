#include "worker/eval/gsm8k.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/eval/test_util.h"

namespace cohort::worker::eval {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(Gsm8kExtractTest, LastNumberWins) {
  EXPECT_EQ(ExtractGsm8kFlexible("She makes 18 dollars (2 x 9)"), "9");
  EXPECT_EQ(ExtractGsm8kFlexible("Total: $1,000."), "$1,000.");
  EXPECT_EQ(ExtractGsm8kFlexible("answer -7"), "-7");
  EXPECT_EQ(ExtractGsm8kFlexible("no digits here"), "");
}

TEST(Gsm8kNormalizeTest, LmEvalRegexes) {
  EXPECT_EQ(NormalizeGsm8k("$1,000."), "1000");
  EXPECT_EQ(NormalizeGsm8k("She sells 9.\n#### 1,000"), "1000");
  EXPECT_EQ(NormalizeGsm8k("18.00"), "18.00");  // not numeric equality
}

TEST(Gsm8kScoreTest, PassAndFail) {
  Problem p;
  p.gold = "18";
  BenchSettings s = CardSettings("gsm8k");
  EXPECT_TRUE(ScoreGsm8k(p, "So she makes $18.", s).passed);
  EXPECT_TRUE(ScoreGsm8k(p, "#### 18", s).passed);
  EXPECT_FALSE(ScoreGsm8k(p, "18 dollars (2 x 9)", s).passed);
  EXPECT_FALSE(ScoreGsm8k(p, "18.00", s).passed);
  EXPECT_FALSE(ScoreGsm8k(p, "", s).passed);
}

TEST(Gsm8kLoadTest, ReferenceAnswersScoreFull) {
  BenchSettings s = CardSettings("gsm8k");
  ASSERT_OK_AND_ASSIGN(std::vector<Problem> problems,
                       LoadGsm8k(DatasetPath("gsm8k/test.jsonl"), s));
  ASSERT_EQ(problems.size(), 1319u);
  EXPECT_EQ(problems[0].id, "0");
  EXPECT_EQ(problems[0].gold, "18");
  EXPECT_THAT(problems[0].prompt, StartsWith("Question: Janet"));
  EXPECT_THAT(problems[0].prompt, HasSubstr("\nAnswer:"));
  // No train.jsonl is shipped: zero-shot, and the gap is recorded.
  EXPECT_EQ(problems[0].meta["fewshot_missing"], 5);
  int passed = 0;
  for (const Problem& p : problems) {
    std::string reference = p.meta["reference"].get<std::string>();
    passed += ScoreGsm8k(p, reference, s).passed;
    EXPECT_FALSE(ScoreGsm8k(p, "The answer is " + p.gold + "1", s).passed);
  }
  EXPECT_EQ(passed, 1319);
}

TEST(Gsm8kLoadTest, FewShotFromTrainBesideTest) {
  cohort::testing::TempDir dir;
  WriteFile(dir, "train.jsonl", "{\"question\":\"Q1?\",\"answer\":\"A1\\n#### 1\"}\n"
                                "{\"question\":\"Q2?\",\"answer\":\"#### 2\"}\n");
  std::string test = WriteFile(dir, "test.jsonl", "{\"question\":\"Q?\",\"answer\":\"#### 3\"}\n");
  BenchSettings s = CardSettings("gsm8k");
  s.num_fewshot = 2;
  ASSERT_OK_AND_ASSIGN(std::vector<Problem> problems, LoadGsm8k(test, s));
  EXPECT_EQ(problems[0].prompt,
            "Question: Q1?\nAnswer: A1\n#### 1\n\nQuestion: Q2?\nAnswer: #### 2\n\n"
            "Question: Q?\nAnswer:");
}

}  // namespace
}  // namespace cohort::worker::eval
