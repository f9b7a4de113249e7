#include "worker/eval/arc.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/eval/test_util.h"

namespace cohort::worker::eval {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Letter(const std::string& text, std::string* rule = nullptr) {
  std::string unused;
  return ExtractArcLetter(text, rule != nullptr ? rule : &unused);
}

TEST(ArcExtractTest, AnswerPhraseTakesTheLastMatch) {
  std::string rule;
  EXPECT_EQ(Letter("The answer is A... on reflection the best answer is **(C)**.", &rule), "C");
  EXPECT_EQ(rule, "answer_phrase");
  EXPECT_EQ(Letter("Final Answer: b"), "B");  // case-insensitive, upper-cased
  EXPECT_EQ(Letter("answer: D because"), "D");
}

TEST(ArcExtractTest, BoxedThenTailLetter) {
  std::string rule;
  EXPECT_EQ(Letter("so \\boxed{ B } it is", &rule), "B");
  EXPECT_EQ(rule, "boxed");
  EXPECT_EQ(Letter("Option C looks right.", &rule), "C");
  EXPECT_EQ(rule, "tail_letter");
  // Only the last 400 characters are searched by the fallback.
  EXPECT_EQ(Letter("D " + std::string(500, 'x'), &rule), "");
  EXPECT_EQ(rule, "none");
  EXPECT_EQ(Letter("The answer is E"), "");  // E is never a choice
}

// omk's ARC extractor as Python runs it (eval/lm_eval_tasks/arc_challenge_chat/
// utils_chat.py at f6450b1, `_extract(text)` under python3.11): \s and \b are
// Unicode, so a letter glued to an accented letter is no answer.
TEST(ArcExtractTest, UnicodeSpacesAndWordsAsPythonReadsThem) {
  EXPECT_EQ(Letter("The best answer is A\u00e9"), "");
  EXPECT_EQ(Letter("The answer is\u00a0C"), "C");
  EXPECT_EQ(Letter("Je choisis B\u00e9 ... so the answer:\u202fD"), "D");
  EXPECT_EQ(Letter("\\boxed{\u00a0b\u00a0}"), "B");
  EXPECT_EQ(Letter("option A\u00e9 or maybe C"), "C");
}

TEST(ArcScoreTest, VerdictAgainstGold) {
  Problem p;
  p.gold = "B";
  BenchSettings s = CardSettings("arc_challenge");
  EXPECT_TRUE(ScoreArc(p, "The best answer is B", s).passed);
  EXPECT_FALSE(ScoreArc(p, "The best answer is C", s).passed);
  EXPECT_FALSE(ScoreArc(p, "", s).passed);
}

TEST(ArcLoadTest, PublishedFileAndReferenceAnswersScoreFull) {
  BenchSettings s = CardSettings("arc_challenge");
  ASSERT_OK_AND_ASSIGN(std::vector<Problem> problems,
                       LoadArc(DatasetPath("arc_challenge/ARC-Challenge-Test.jsonl"), s));
  ASSERT_EQ(problems.size(), 1172u);
  EXPECT_EQ(problems[0].id, "Mercury_7175875");
  EXPECT_EQ(problems[0].gold, "C");
  // The card's text: each line break is a backslash and an n (omk's YAML).
  EXPECT_THAT(problems[0].prompt, HasSubstr("answer.\\nQuestion: An astronomer observes"));
  EXPECT_THAT(problems[0].prompt, HasSubstr("\\nD. Planetary gravity will become stronger."));
  EXPECT_THAT(problems[0].prompt, Not(HasSubstr("\n")));
  int passed = 0;
  for (const Problem& p : problems) {
    EXPECT_THAT(p.prompt, Not(HasSubstr("\\nE. ")));
    ASSERT_TRUE(p.gold >= "A" && p.gold <= "D") << p.id;
    passed += ScoreArc(p, "Reasoning...\nThe best answer is " + p.gold, s).passed;
    std::string wrong = p.gold == "A" ? "B" : "A";
    EXPECT_FALSE(ScoreArc(p, "The best answer is " + wrong, s).passed);
  }
  EXPECT_EQ(passed, 1172);
}

TEST(ArcLoadTest, BadRowsNameFileAndLine) {
  cohort::testing::TempDir dir;
  std::string path = WriteFile(dir, "arc.jsonl", "{\"id\":\"x\",\"answerKey\":\"A\"}\n");
  EXPECT_THAT(LoadArc(path, CardSettings("arc_challenge")),
              cohort::testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                        HasSubstr("arc.jsonl:1:")));
}

}  // namespace
}  // namespace cohort::worker::eval
