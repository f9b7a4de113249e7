#include "worker/eval/py_regex.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::worker::eval {
namespace {

using ::testing::ElementsAre;

// Group 1 of every match, as Python's re.findall gives for one group.
std::vector<std::string> Groups(const PyRegex& re, const std::string& text) {
  std::vector<std::string> out;
  for (const PyMatch& m : re.FindAll(text)) out.push_back(m.groups.at(0).value_or(""));
  return out;
}

std::vector<std::string> Whole(const PyRegex& re, const std::string& text) {
  std::vector<std::string> out;
  for (const PyMatch& m : re.FindAll(text)) out.push_back(m.text);
  return out;
}

// Expected values below are Python 3.11's re on the same pattern and text:
//   python3 -c 'import re; print([m.groups() or m.group(0) for m in
//               re.finditer(PATTERN, TEXT, FLAGS)])'

TEST(PyRegexTest, WhiteSpaceIsPythonsUnicodeSet) {
  // omk's AIME tier 4 on "the real part is\u202f540": Python's \s takes the
  // narrow no-break space, RE2's does not.
  PyRegex tier4("\\b(?:is|equals|=)\\s*\\$?\\s*([\\-+]?\\d+)\\s*\\$?\\.?\\s*$",
                PyRegex::kIgnoreCase | PyRegex::kMultiline);
  ASSERT_TRUE(tier4.status().ok()) << tier4.status();
  EXPECT_THAT(Groups(tier4, "the real part is\u202f540"), ElementsAre("540"));
  EXPECT_THAT(Groups(tier4, "the real part is\u00a0540"), ElementsAre("540"));
  EXPECT_THAT(Groups(tier4, "the real part is\u3000540"), ElementsAre("540"));
  // \b before "=" needs a word character before it; a no-break space is not.
  EXPECT_THAT(Groups(tier4, "so m\u00a0=\u00a0110"), ElementsAre());
  PyRegex s("\\s+");
  EXPECT_THAT(Whole(s, "a\x1c\u0085\u1680\u205f\u2028b\u200bc"),
              ElementsAre("\x1c\u0085\u1680\u205f\u2028"));  // U+200B is not space
}

TEST(PyRegexTest, DigitsAreUnicodeDecimals) {
  PyRegex integer("[\\-+]?\\d+");
  EXPECT_THAT(Whole(integer, "answer \uff15\uff14\uff10 done"), ElementsAre("\uff15\uff14\uff10"));
  EXPECT_THAT(Whole(integer, "\u0665\u0660 and x\u00b2"), ElementsAre("\u0665\u0660"));  // ² is No
  PyRegex not_digit("[^\\d\\-+]");
  EXPECT_EQ(not_digit.Sub("a\uff11-2 b", ""), "\uff11-2");
}

TEST(PyRegexTest, WordBoundaryIsUnicode) {
  // omk's AIME tier 5: "12é" has no boundary after the digits in Python.
  PyRegex tier5("=\\s*\\*{0,2}\\s*\\$?\\s*([\\-+]?\\d+)\\b");
  EXPECT_THAT(Groups(tier5, "x = 12\u00e9 and y = 7"), ElementsAre("7"));
  // ARC's tail letter: "A\u00e9" is one word in Python.
  PyRegex letter("\\b([A-D])\\b");
  EXPECT_THAT(Groups(letter, "choice A\u00e9 or B"), ElementsAre("B"));
  PyRegex word("\\w+");
  EXPECT_THAT(Whole(word, "na\u00efve caf\u00e9 x\u00b2 _a"),
              ElementsAre("na\u00efve", "caf\u00e9", "x\u00b2", "_a"));
  PyRegex non_boundary("a\\B");
  EXPECT_THAT(Whole(non_boundary, "ab a"), ElementsAre("a"));
}

TEST(PyRegexTest, LinesEndOnlyAtNewline) {
  // Python's $ and . know only "\n"; ICU's default also knows U+2028 and \r.
  PyRegex end("(\\d+)$", PyRegex::kMultiline);
  EXPECT_THAT(Groups(end, "1\u20282\n3"), ElementsAre("2", "3"));
  PyRegex dot("a.b");
  EXPECT_THAT(Whole(dot, "a\rb a\nb a\u2028b"), ElementsAre("a\rb", "a\u2028b"));
  PyRegex dotall("a.b", PyRegex::kDotAll);
  EXPECT_EQ(dotall.FindAll("a\nb").size(), 1u);
  PyRegex z("b\\Z");
  EXPECT_TRUE(z.FindAll("ab\n").empty());  // Python's \Z is the very end
  EXPECT_EQ(z.FindAll("ab").size(), 1u);
}

TEST(PyRegexTest, ClassesKeepPythonLiterals) {
  PyRegex money("(-?[$0-9.,]{2,})|(-?[0-9]+)");
  ASSERT_TRUE(money.status().ok()) << money.status();
  EXPECT_THAT(Whole(money, "costs $1,000.50 or 7"), ElementsAre("$1,000.50", "7"));
  PyRegex bracket("[]a]+");
  EXPECT_THAT(Whole(bracket, "x]a]y"), ElementsAre("]a]"));
  PyRegex open("[[&:{}]+");
  ASSERT_TRUE(open.status().ok()) << open.status();
  EXPECT_THAT(Whole(open, "a[&:{}b"), ElementsAre("[&:{}"));
  PyRegex spaces_in_class(":[\\s]*(A|B|C|D)");
  EXPECT_THAT(Groups(spaces_in_class, "answer:\u00a0C"), ElementsAre("C"));
}

TEST(PyRegexTest, GroupsThatDidNotTakePartAreNone) {
  PyRegex re("(a)|(b)");
  std::vector<PyMatch> m = re.FindAll("b");
  ASSERT_EQ(m.size(), 1u);
  EXPECT_FALSE(m[0].groups[0].has_value());
  EXPECT_EQ(m[0].groups[1].value_or("?"), "b");
  EXPECT_EQ(re.LastGroup("b"), std::optional<std::string>(""));
  EXPECT_EQ(re.LastGroup("c"), std::nullopt);
}

TEST(PyRegexTest, BadPatternMatchesNothingAndSaysWhy) {
  PyRegex bad("(unclosed");
  EXPECT_FALSE(bad.status().ok());
  EXPECT_TRUE(bad.FindAll("unclosed").empty());
  EXPECT_EQ(bad.Sub("unclosed", "x"), "unclosed");
}

TEST(PyRegexTest, PathologicalSearchEndsInsteadOfRunningForever) {
  // Exponential backtracking in any backtracking engine (Python's too): the
  // step limit ends it with no match instead of a hung scorer.
  PyRegex evil("(a+)+$");
  std::string text(64, 'a');
  text += "!";
  EXPECT_TRUE(evil.FindAll(text).empty());
}

TEST(PyRegexTest, InvalidUtf8IsReadNotCrashedOn) {
  PyRegex integer("\\d+");
  EXPECT_THAT(Whole(integer, std::string("1\xff\xfe" "2")), ElementsAre("1", "2"));
}

}  // namespace
}  // namespace cohort::worker::eval
