#include "worker/eval/ifeval_checkers.h"

#include <set>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/eval/ifeval_text.h"

namespace cohort::worker::eval {
namespace {

struct Case {
  const char* id;
  const char* kwargs;  // JSON
  const char* pass;
  const char* fail;
};

const std::vector<Case>& Cases() {
  static const auto* cases = new std::vector<Case>{
      {"keywords:existence", R"({"keywords": ["Apple", "pie"]})",
       "an APPLE pie", "an apple tart"},
      {"keywords:frequency", R"({"keyword": "cat", "frequency": 2, "relation": "at least"})",
       "Cat and cat", "one cat"},
      {"keywords:frequency", R"({"keyword": "cat", "frequency": 2, "relation": "less than"})",
       "one cat", "cat cat"},
      {"keywords:forbidden_words", R"({"forbidden_words": ["bad"]})",
       "badly done", "this is BAD."},
      {"keywords:letter_frequency", R"({"letter": "Z", "let_frequency": 2, "let_relation": "at least"})",
       "zigzag", "zero"},
      {"language:response_language", R"({"language": "de"})",
       "Das ist ein kurzer deutscher Satz über das Wetter in Berlin und die Stadt.",
       "This is a short English sentence about the weather in London and the city."},
      {"length_constraints:number_sentences", R"({"num_sentences": 3, "relation": "less than"})",
       "One sentence. Two sentences.", "One. Two. Three. Four."},
      {"length_constraints:number_paragraphs", R"({"num_paragraphs": 2})",
       "first ***\nsecond", "first *** *** second"},
      {"length_constraints:number_words", R"({"num_words": 3, "relation": "at least"})",
       "one two, three!", "one two"},
      {"length_constraints:nth_paragraph_first_word",
       R"({"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "Then"})",
       "First part.\n\n\"Then, second.", "First part.\n\nNow second."},
      {"detectable_content:number_placeholders", R"({"num_placeholders": 2})",
       "Dear [name] at [address]", "Dear [name]"},
      {"detectable_content:postscript", R"({"postscript_marker": "P.S."})",
       "Hello.\nP.S. bye", "Hello. PS bye"},
      {"detectable_content:postscript", R"({"postscript_marker": "P.P.S"})",
       "Hi\np.p.s. more", "Hi\nP.S. more"},
      {"detectable_format:number_bullet_lists", R"({"num_bullets": 2})",
       "* one\n- two\n**bold** text", "* one\n* two\n* three"},
      {"detectable_format:constrained_response", "{}",
       "Well... My answer is maybe.", "My answer is probably."},
      {"detectable_format:number_highlighted_sections", R"({"num_highlights": 2})",
       "*one* and **two**", "*one* and ** **"},
      {"detectable_format:multiple_sections", R"({"section_spliter": "Section", "num_sections": 2})",
       "Section 1\nfoo\nSection 2\nbar", "Section 1\nfoo"},
      {"detectable_format:json_format", "{}",
       "```json\n{\"a\": 1}\n```", "{a: 1}"},
      {"detectable_format:title", "{}", "<<A Title>>\ntext", "<< >> text"},
      {"combination:two_responses", "{}", "one ****** two", "one ****** one"},
      {"combination:repeat_prompt", R"({"prompt_to_repeat": "Say hi."})",
       "say HI. Hi!", "Hi! Say hi."},
      {"startend:end_checker", R"({"end_phrase": "Any other questions?"})",
       "Done. any other questions?\"", "Any other questions? Yes."},
      {"startend:quotation", "{}", "  \"quoted\"  ", "\"not quoted"},
      {"change_case:capital_word_frequency",
       R"({"capital_frequency": 2, "capital_relation": "at least"})",
       "The NASA and ESA teams", "The NASA team"},
      {"change_case:english_capital", "{}",
       "THIS IS AN ENGLISH SENTENCE ABOUT THE WEATHER TODAY.", "THIS IS Mostly CAPS."},
      {"change_case:english_lowercase", "{}",
       "this is an english sentence about the weather today.", "this is Not lowercase."},
      {"punctuation:no_comma", "{}", "no commas here", "one, two"},
  };
  return *cases;
}

TEST(IfevalCheckersTest, EveryInstructionHasCases) {
  std::set<std::string> covered;
  for (const Case& c : Cases()) covered.insert(c.id);
  EXPECT_EQ(IfevalInstructionIds().size(), 25u);
  for (const std::string& id : IfevalInstructionIds()) EXPECT_EQ(covered.count(id), 1u) << id;
}

TEST(IfevalCheckersTest, PassingAndFailingResponses) {
  for (const Case& c : Cases()) {
    nlohmann::json kwargs = nlohmann::json::parse(c.kwargs);
    ASSERT_OK(ValidateIfevalInstruction(c.id, kwargs));
    EXPECT_TRUE(FollowsIfevalInstruction(c.id, kwargs, c.pass)) << c.id << ": " << c.pass;
    EXPECT_FALSE(FollowsIfevalInstruction(c.id, kwargs, c.fail)) << c.id << ": " << c.fail;
  }
}

TEST(IfevalCheckersTest, ValidationRefusesBadKwargs) {
  using cohort::testing::StatusIs;
  EXPECT_THAT(ValidateIfevalInstruction("no:such", nlohmann::json::object()),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("unknown")));
  EXPECT_FALSE(ValidateIfevalInstruction("keywords:frequency",
                                         {{"keyword", "a"}, {"frequency", 2}, {"relation", "more"}})
                   .ok());
  EXPECT_OK(ValidateIfevalInstruction("punctuation:no_comma", nlohmann::json::object()));
  // Null values count as absent (the HF copy writes every key).
  EXPECT_FALSE(ValidateIfevalInstruction("detectable_content:number_placeholders",
                                         {{"num_placeholders", nullptr}})
                   .ok());
}

TEST(IfevalTextTest, Primitives) {
  EXPECT_TRUE(IsUpper("HELLO, WORLD 1"));
  EXPECT_FALSE(IsUpper("HELLO World"));
  EXPECT_FALSE(IsUpper("123"));
  EXPECT_TRUE(IsLower("\xC3\xA9t\xC3\xA9"));
  EXPECT_EQ(CountWords("it's a test_case, 42!"), 5);
  EXPECT_EQ(CountSentences("Mr. Smith went home. He slept!\nThen he woke?"), 3);
  EXPECT_EQ(DetectLanguage("12345 !!!"), "");
  EXPECT_THAT(WordTokens("\"DON'T\" stop, NASA's"),
              ::testing::ElementsAre("``", "DO", "N'T", "''", "stop", ",", "NASA", "'s"));
}

// NLTK 3.8's NLTKWordTokenizer().tokenize on each text (Debian python3-nltk,
// printed by /usr/bin/python3 -c 'from nltk.tokenize import NLTKWordTokenizer; ...').
TEST(IfevalTextTest, TreebankWordTokensEqualNltks) {
  struct Case {
    std::string text;
    std::vector<std::string> tokens;
  };
  const Case cases[] = {
      {"\"DON'T\" stop, NASA's", {"``", "DO", "N'T", "''", "stop", ",", "NASA", "'s"}},
      {"Good muffins cost $3.88 (roughly 3,36 euros)\nin New York.  Please buy me\ntwo of them.\nThanks.", {"Good", "muffins", "cost", "$", "3.88", "(", "roughly", "3,36", "euros", ")", "in", "New", "York.", "Please", "buy", "me", "two", "of", "them.", "Thanks", "."}},
      {"He said, 'hello' -- and «left»... cannot gonna wanna go!", {"He", "said", ",", "'hello", "'", "--", "and", "«", "left", "»", "...", "can", "not", "gon", "na", "wan", "na", "go", "!"}},
      {"I'm \"quoted\" here: yes; 50% @home #tag & co. 'tis *bold* [x] {y} <z>", {"I", "'m", "``", "quoted", "''", "here", ":", "yes", ";", "50", "%", "@", "home", "#", "tag", "&", "co.", "'t", "is", "*", "bold", "*", "[", "x", "]", "{", "y", "}", "<", "z", ">"}},
      {"Ends with a quote.\"", {"Ends", "with", "a", "quote", ".", "''"}},
      {"THE END.", {"THE", "END", "."}},
      {"e.g. U.S.A. vs. the UK's 3.5% rate?", {"e.g.", "U.S.A.", "vs.", "the", "UK", "'s", "3.5", "%", "rate", "?"}},
      {"“Smart” quotes ‘here’ and `back` ticks, don’t they?", {"“", "Smart", "”", "quotes", "‘", "here", "’", "and", "`", "back", "`", "ticks", ",", "don", "’", "t", "they", "?"}},
      {"Numbers: 1,000,000 and 3:45pm, ratio 3:2.", {"Numbers", ":", "1,000,000", "and", "3:45pm", ",", "ratio", "3:2", "."}},
      {"WHAT?! NO WAY... (REALLY)", {"WHAT", "?", "!", "NO", "WAY", "...", "(", "REALLY", ")"}},
  };
  for (const Case& c : cases) EXPECT_EQ(TreebankWordTokens(c.text), c.tokens) << c.text;
}

}  // namespace
}  // namespace cohort::worker::eval
