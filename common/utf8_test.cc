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

}  // namespace
}  // namespace cohort
