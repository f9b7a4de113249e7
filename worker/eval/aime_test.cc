#include "worker/eval/aime.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/eval/test_util.h"

namespace cohort::worker::eval {
namespace {

std::string Extract(const std::string& text, bool six, std::string* rule = nullptr) {
  std::string unused;
  return ExtractAimeAnswer(text, six, rule != nullptr ? rule : &unused);
}

TEST(AimeExtractTest, EachTier) {
  std::string rule;
  EXPECT_EQ(Extract("so \\boxed{0 7 3} and = 5", false, &rule), "073");
  EXPECT_EQ(rule, "tier1_boxed");
  EXPECT_EQ(Extract("Answer is 12 but wait\n**Answer:** 45\nx = 9", true, &rule), "45");
  EXPECT_EQ(rule, "tier2_answer_line");
  EXPECT_EQ(Extract("The final answer is \\boxed{204", false, &rule), "204");
  EXPECT_EQ(rule, "tier3_answer_phrase");
  // "boxe" is required in tier 3: a bare "Answer: 405" falls through to the
  // tier-5 salvage (tier 4's \b cannot sit before " =").
  EXPECT_EQ(Extract("Answer: 405, since y = 3.", false, &rule), "3");
  EXPECT_EQ(rule, "tier5_equals");
  EXPECT_EQ(Extract("Work...\nThus the total equals 315.", false, &rule), "315");
  EXPECT_EQ(rule, "tier4_last_line");
  EXPECT_EQ(Extract("we get n = 17 and then more words", false, &rule), "17");
  EXPECT_EQ(rule, "tier5_equals");
  EXPECT_EQ(Extract("perhaps 601 works", false, &rule), "601");
  EXPECT_EQ(rule, "tier6_tail");
  EXPECT_EQ(Extract("no numbers", false, &rule), "");
  EXPECT_EQ(rule, "none");
}

TEST(AimeExtractTest, CardEraHasNoLineAnchoredTier) {
  std::string text = "Answer: 45\nBut earlier we had x = 9 and more";
  EXPECT_EQ(Extract(text, /*six=*/true), "45");
  EXPECT_EQ(Extract(text, /*six=*/false), "9");
}

// omk's extractor as Python runs it, on answers with Unicode spaces and
// digits. Expected answers are the reference's own output: omk
// eval/lm_eval_tasks/aime24_chat/utils_chat.py at f57c488 (card era, 5 tiers)
// and f6450b1 (HEAD, 6 tiers), `_extract(text)` under python3.11.
TEST(AimeExtractTest, UnicodeSpacesAndDigitsAsPythonReadsThem) {
  struct Case {
    const char* text;
    const char* card;
    const char* head;
  };
  const Case cases[] = {
      {"So the real part is\u202f540", "540", "540"},
      {"So the real part is\u00a0540.", "540", "540"},
      {"Thus m\u00a0=\u00a0110", "110", "110"},
      {"We get \\boxed{\uff15\uff14\uff10}", "\uff15\uff14\uff10", "\uff15\uff14\uff10"},
      {"x = 12\u00e9\nthe sum is over", "12", "12"},
      {"Answer:\u00a0110\nThat is all.", "110", "110"},
      {"Final answer:\u2009\\boxed{73}", "73", "73"},
      {"the value is \u0665\u0660", "\u0665\u0660", "\u0665\u0660"},
      {"Hence the answer is 204\u3000", "204", "204"},
      {"n = 33\u2028and more words here", "33", "33"},
      {"**Answer:** 025", "025", "025"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Extract(c.text, /*six=*/false), c.card) << c.text;
    EXPECT_EQ(Extract(c.text, /*six=*/true), c.head) << c.text;
  }
  // Which tier fires: Python's \s reads the narrow no-break space.
  std::string rule;
  Extract("So the real part is\u202f540", false, &rule);
  EXPECT_EQ(rule, "tier4_last_line");
  // A full-width answer is extracted, and fails the string comparison as in omk.
  Problem p;
  p.gold = "540";
  EXPECT_FALSE(ScoreAime(p, "\\boxed{\uff15\uff14\uff10}", CardSettings("aime2024")).passed);
}

TEST(AimeScoreTest, ComparesStringsLikeOmk) {
  Problem p;
  p.gold = "25";
  BenchSettings card = CardSettings("aime2024");
  EXPECT_TRUE(ScoreAime(p, "\\boxed{25}", card).passed);
  // String comparison, as omk: a zero-padded or signed answer fails.
  EXPECT_FALSE(ScoreAime(p, "\\boxed{025}", card).passed);
  EXPECT_TRUE(ScoreAime(p, "\\boxed{025}", card).detail["integer_match"].get<bool>());
  EXPECT_FALSE(ScoreAime(p, "\\boxed{26}", card).passed);
  EXPECT_FALSE(ScoreAime(p, "", card).passed);
}

void ExpectReferenceAnswersScoreFull(const std::string& file, size_t count) {
  BenchSettings s = CardSettings("aime2024");
  ASSERT_OK_AND_ASSIGN(std::vector<Problem> problems, LoadAime(DatasetPath(file), s));
  ASSERT_EQ(problems.size(), count);
  int passed = 0;
  for (const Problem& p : problems) {
    std::string reference = p.meta["reference"].get<std::string>();
    // The answer as an integer (omk compares str(int(answer)); a zero-padded
    // "025" would fail, see ComparesStringsLikeOmk).
    passed += ScoreAime(p, "Therefore the answer is $\\boxed{" + p.gold + "}$.", s).passed;
    EXPECT_EQ(std::stoi(reference), std::stoi(p.gold));
    EXPECT_FALSE(
        ScoreAime(p, "\\boxed{" + std::to_string(std::stoi(p.gold) + 1) + "}", s).passed);
  }
  EXPECT_EQ(passed, static_cast<int>(count));
}

TEST(AimeLoadTest, Aime2024ReferenceAnswersScoreFull) {
  ExpectReferenceAnswersScoreFull("aime2024/test.jsonl", 30);
  BenchSettings s = CardSettings("aime2024");
  ASSERT_OK_AND_ASSIGN(std::vector<Problem> problems,
                       LoadAime(DatasetPath("aime2024/test.jsonl"), s));
  EXPECT_EQ(problems[0].id, "60");
  EXPECT_EQ(problems[0].prompt.rfind("Question: Every morning Aya", 0), 0u);
}

TEST(AimeLoadTest, Aime100ReferenceAnswersScoreFull) {
  ExpectReferenceAnswersScoreFull("omk-protocol/aime_100.jsonl", 100);
}

}  // namespace
}  // namespace cohort::worker::eval
