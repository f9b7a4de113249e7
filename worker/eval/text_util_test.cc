#include "worker/eval/text_util.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::worker::eval {
namespace {

using ::testing::ElementsAre;

TEST(TextUtilTest, StripLikePython) {
  EXPECT_EQ(Strip("  \t a b \n"), "a b");
  EXPECT_EQ(Strip("\xC2\xA0x\xE3\x80\x80"), "x");  // NBSP, ideographic space
  EXPECT_EQ(Strip(""), "");
  EXPECT_EQ(Strip("\xFF "), "\xFF");  // invalid byte kept, no crash
  EXPECT_EQ(StripChars("**a*b**", "*"), "a*b");
}

TEST(TextUtilTest, SplitsLikePython) {
  EXPECT_THAT(SplitOn("a\n\nb\n\n", "\n\n"), ElementsAre("a", "b", ""));
  EXPECT_THAT(SplitWhitespace("  a  b\tc \n"), ElementsAre("a", "b", "c"));
}

TEST(TextUtilTest, CodePoints) {
  EXPECT_EQ(CodePointCount("h\xC3\xA9llo"), 5);
  EXPECT_EQ(LastCodePoints("h\xC3\xA9llo", 4), "\xC3\xA9llo");
  EXPECT_EQ(LastCodePoints("ab", 10), "ab");
  EXPECT_EQ(CodePointCount("\xE2\x82"), 2);  // truncated sequence: bytes count
}

TEST(TextUtilTest, FindAllHandlesEmptyMatchesAndGroups) {
  RE2 re("x*", QuietOptions());
  EXPECT_EQ(FindAll(re, "axb").size(), 4u);  // Python: ['', 'x', '', '']
  RE2 alt("(a)|(b)", QuietOptions());
  EXPECT_EQ(LastMatchGroup(alt, "a b"), "b");
  EXPECT_EQ(LastMatchGroup(alt, "zzz"), "");
  RE2 split("\\s?\\*\\*\\*\\s?", QuietOptions());
  EXPECT_THAT(RegexSplit(split, "a *** b***"), ElementsAre("a", "b", ""));
}

}  // namespace
}  // namespace cohort::worker::eval
