// langdetect reproduced: the expected codes are Python langdetect 1.0.9's
// (Debian's python3-langdetect) with DetectorFactory.seed = 0:
//   /usr/bin/python3 -c 'from langdetect import DetectorFactory, detect
//     DetectorFactory.seed = 0; print(detect(TEXT))'
// ("" where it raises LangDetectException: no features in the text).
#include "worker/eval/langdetect.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::worker::eval {
namespace {

using ::testing::HasSubstr;

TEST(LangdetectTest, SameLanguageAsPythonLangdetectWithSeedZero) {
  ASSERT_OK_AND_ASSIGN(const LangDetector* d, LangDetector::Default());
  EXPECT_EQ(d->languages().size(), 55u);
  struct Case {
    const char* text;
    const char* lang;
  };
  const Case cases[] = {
      {"YES", "cy"},
      {"A", "tl"},
      {"Hello world", "en"},
      {"The quick brown fox jumps over the lazy dog.", "en"},
      {"THIS IS ALL CAPS AND SHOULD STILL BE ENGLISH", "en"},
      {"Je suis tr\u00e8s content de vous voir aujourd'hui.", "fr"},
      {"Das ist ein sch\u00f6ner Tag, nicht wahr?", "de"},
      {"Esto es una prueba del sistema de detecci\u00f3n.", "es"},
      {"\u042d\u0442\u043e \u043f\u0440\u0438\u043c\u0435\u0440 \u0442\u0435\u043a\u0441\u0442\u0430 \u043d\u0430 \u0440\u0443\u0441\u0441\u043a\u043e\u043c \u044f\u0437\u044b\u043a\u0435.", "ru"},
      {"\u3053\u308c\u306f\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3067\u3059\u3002", "ja"},
      {"\u8fd9\u662f\u4e00\u4e2a\u4e2d\u6587\u53e5\u5b50\uff0c\u7528\u4e8e\u6d4b\u8bd5\u3002", "zh-cn"},
      {"\ud55c\uad6d\uc5b4 \ubb38\uc7a5\uc744 \ud14c\uc2a4\ud2b8\ud569\ub2c8\ub2e4.", "ko"},
      {"Ti\u1ebfng Vi\u1ec7t c\u00f3 d\u1ea5u r\u1ea5t \u0111\u1eb9p.", "vi"},
      {"\u0928\u092e\u0938\u094d\u0924\u0947, \u0906\u092a \u0915\u0948\u0938\u0947 \u0939\u0948\u0902?", "hi"},
      {"\u0645\u0631\u062d\u0628\u0627 \u0643\u064a\u0641 \u062d\u0627\u0644\u0643 \u0627\u0644\u064a\u0648\u0645\u061f", "ar"},
      {"Alice, Bob, Charlie", "en"},
      {"Sure thing", "en"},
      {"OK", "pt"},
      {"12345", ""},
      {"!!!", ""},
      {"", ""},
      {"   ", ""},
      {"https://example.com/a?b=c", ""},
      {"mail me at someone@example.com please", "en"},
      {"Ciao, come stai? Tutto bene.", "it"},
      {"Ol\u00e1, tudo bem com voc\u00ea?", "pt"},
      {"Dit is een Nederlandse zin.", "nl"},
      {"Hej, hur m\u00e5r du idag?", "sv"},
      {"Merhaba, nas\u0131ls\u0131n?", "tr"},
      {"Cze\u015b\u0107, jak si\u0119 masz?", "pl"},
      {"\u00c7A VA?", "hu"},
      {"Ti\u1ebfng Vi\u1ec7t", "vi"},
      {"Raymond III", "en"},
      {"zebra", "pl"},
      {"na\u00efve caf\u00e9", "fr"},
      {"Tie\u0302\u0301ng Vie\u0323\u0302t", "vi"},
  };
  for (const Case& c : cases) EXPECT_EQ(d->Detect(c.text), c.lang) << c.text;
}

TEST(LangdetectTest, MissingDataIsAnErrorNamingTheFolder) {
  EXPECT_THAT(LangDetector::Load("/nonexistent/langdetect").status(),
              cohort::testing::StatusIs(absl::StatusCode::kNotFound,
                                        HasSubstr("/nonexistent/langdetect")));
}

TEST(LangdetectTest, AnyBytesGiveAnAnswer) {
  ASSERT_OK_AND_ASSIGN(const LangDetector* d, LangDetector::Default());
  // Invalid bytes read as U+FFFD, which Python's str would hold: langdetect's
  // Bengali profile has that character (detect("\ufffd\ufffd\ufffd") == "bn").
  EXPECT_EQ(d->Detect(std::string("\xff\xfe\x80")), "bn");
  std::string long_text;
  for (int i = 0; i < 5000; ++i) long_text += "the cat sat on the mat. ";
  EXPECT_EQ(d->Detect(long_text), "en");  // cut at 10000 characters, as langdetect does
}

}  // namespace
}  // namespace cohort::worker::eval
