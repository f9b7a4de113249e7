#include "common/utf8.h"

#include "gtest/gtest.h"

namespace cohort {
namespace {

TEST(Utf8PrefixTest, CutsBeforeASequenceThatWouldNotFit) {
  const std::string text = "ab\xc3\xa9" "cd";  // "abécd": é is 2 bytes
  EXPECT_EQ(Utf8Prefix(text, 100), text);
  EXPECT_EQ(Utf8Prefix(text, 4), "ab\xc3\xa9");
  EXPECT_EQ(Utf8Prefix(text, 3), "ab");  // not half of é
  EXPECT_EQ(Utf8Prefix(text, 2), "ab");
  EXPECT_EQ(Utf8Prefix("\xf0\x9f\x98\x80", 3), "");  // a 4-byte emoji
  EXPECT_EQ(Utf8Prefix("", 0), "");
}

TEST(Utf8SuffixTest, StartsAtASequenceBoundary) {
  const std::string text = "ab\xc3\xa9" "cd";
  EXPECT_EQ(Utf8Suffix(text, 100), text);
  EXPECT_EQ(Utf8Suffix(text, 4), "\xc3\xa9" "cd");
  EXPECT_EQ(Utf8Suffix(text, 3), "cd");  // not the second half of é
}

TEST(ValidUtf8Test, KeepsWellFormedTextAndReplacesEveryBadByte) {
  const std::string good = "a \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf";
  EXPECT_EQ(ValidUtf8(good), good);
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(ValidUtf8("\xa9x"), fffd + "x");                     // a stray continuation
  EXPECT_EQ(ValidUtf8("\xc0\x80"), fffd + fffd);                 // overlong NUL
  EXPECT_EQ(ValidUtf8("\xe0\x80\xaf"), fffd + fffd + fffd);      // overlong '/'
  EXPECT_EQ(ValidUtf8("\xed\xa0\x80"), fffd + fffd + fffd);      // a surrogate
  EXPECT_EQ(ValidUtf8("\xf4\x90\x80\x80"), fffd + fffd + fffd + fffd);  // past U+10FFFF
  EXPECT_EQ(ValidUtf8("ok\xe2\x82"), "ok" + fffd + fffd);        // cut short
  EXPECT_EQ(ValidUtf8("\xff"), fffd);
}

}  // namespace
}  // namespace cohort
