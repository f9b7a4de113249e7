#include "worker/eval/gpqa.h"

#include <algorithm>
#include <set>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/eval/csv.h"
#include "worker/eval/test_util.h"

namespace cohort::worker::eval {
namespace {

using ::testing::HasSubstr;
using cohort::testing::StatusIs;

// A synthetic fixture in the published column layout (no real questions).
constexpr char kFixture[] =
    "\xEF\xBB\xBFPre-Revision Question,Question,Correct Answer,Incorrect Answer 1,"
    "Incorrect Answer 2,Incorrect Answer 3,Explanation,Subdomain,High-level domain,Record ID\r\n"
    "x,\"What is 2+2, in base 10?\",4,3,5,\"22\",\"multi\nline\",Arithmetic,Math,recA\r\n"
    "x,Which colour is the sky?,Blue [title],Green,Red,\"Say \"\"no\"\"\",e,Optics,Physics,recB\r\n";

std::vector<Problem> LoadFixture(const cohort::testing::TempDir& dir, int64_t seed = 1234) {
  BenchSettings s = CardSettings("gpqa_diamond");
  s.option_seed = seed;
  absl::StatusOr<std::vector<Problem>> problems = LoadGpqa(WriteFile(dir, "gpqa_diamond.csv", kFixture), s);
  EXPECT_TRUE(problems.ok()) << problems.status();
  return problems.ok() ? *problems : std::vector<Problem>{};
}

TEST(GpqaLoadTest, CsvFixtureWithStoredOptionOrder) {
  cohort::testing::TempDir dir;
  std::vector<Problem> problems = LoadFixture(dir);
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0].id, "recA");
  const Problem& p = problems[0];
  ASSERT_EQ(p.meta["options"].size(), 4u);
  int correct = p.gold[1] - 'A';
  EXPECT_EQ(p.meta["options"][correct], "4");
  EXPECT_EQ(p.meta["order"][correct], "Correct Answer");
  EXPECT_THAT(p.prompt, HasSubstr("What is the correct answer to this question:What is 2+2, in base 10?\nChoices:\n(A) "));
  EXPECT_THAT(p.prompt, HasSubstr("\nLet's think step by step: "));
  // " [title]" becomes ". " (after the strip, so the space stays) and
  // quotes are unescaped.
  std::string options = problems[1].meta["options"].dump();
  EXPECT_THAT(options, HasSubstr("\"Blue. \""));
  EXPECT_THAT(options, HasSubstr("Say \\\"no\\\""));
}

TEST(GpqaLoadTest, PermutationIsFixedBySeedAndId) {
  EXPECT_EQ(GpqaOptionOrder(1234, "recA"), GpqaOptionOrder(1234, "recA"));
  std::set<std::array<int, 4>> seen;
  for (int seed = 0; seed < 50; ++seed) seen.insert(GpqaOptionOrder(seed, "recA"));
  EXPECT_GT(seen.size(), 10u);  // the seed really moves the order
  for (const auto& order : seen) {
    std::array<int, 4> sorted = order;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, (std::array<int, 4>{0, 1, 2, 3}));
  }
}

TEST(GpqaExtractTest, FlexibleTiers) {
  std::vector<std::string> options = {"Green", "Blue.", "Red", "Say \"no\""};
  std::string rule;
  EXPECT_EQ(ExtractGpqaFlexible("(A) or (B)? I pick (C).", options, &rule), "(C)");
  EXPECT_EQ(rule, "paren_letter");
  EXPECT_EQ(ExtractGpqaFlexible("It must be blue, not red... so BLUE", options, &rule), "(B)");
  EXPECT_EQ(rule, "choice_text");
  EXPECT_EQ(ExtractGpqaFlexible("Final: D", options, &rule), "(D)");
  EXPECT_EQ(rule, "colon_letter");
  EXPECT_EQ(ExtractGpqaFlexible("no idea", options, &rule), "[invalid]");
  EXPECT_EQ(rule, "none");
}

TEST(GpqaScoreTest, PassesOnlyTheStoredCorrectLetter) {
  cohort::testing::TempDir dir;
  std::vector<Problem> problems = LoadFixture(dir);
  ASSERT_FALSE(problems.empty());
  const Problem& p = problems[0];
  BenchSettings s = CardSettings("gpqa_diamond");
  EXPECT_TRUE(ScoreGpqa(p, "Therefore the answer is " + p.gold, s).passed);
  char wrong = p.gold[1] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(ScoreGpqa(p, std::string("The answer is (") + wrong + ")", s).passed);
  EXPECT_FALSE(ScoreGpqa(p, "", s).passed);
}

TEST(GpqaLoadTest, BadInput) {
  cohort::testing::TempDir dir;
  BenchSettings s = CardSettings("gpqa_diamond");
  EXPECT_THAT(LoadGpqa(dir.Join("missing.csv"), s), StatusIs(absl::StatusCode::kNotFound, HasSubstr("missing.csv")));
  std::string short_row = WriteFile(dir, "a.csv", "Question,Correct Answer\nq,a,extra\n");
  EXPECT_THAT(LoadGpqa(short_row, s), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("a.csv:2:")));
  std::string no_cols = WriteFile(dir, "b.csv", "Question,Correct Answer\nq,a\n");
  EXPECT_THAT(LoadGpqa(no_cols, s), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("Incorrect Answer")));
  EXPECT_THAT(ParseCsv("a\n\"open", "c.csv"), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("c.csv:2: unterminated")));
}

}  // namespace
}  // namespace cohort::worker::eval
