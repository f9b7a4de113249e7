#include "worker/eval/math_answer.h"

#include <cctype>
#include <cstdio>
#include <ostream>
#include <string>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/eval/jsonl.h"
#include "worker/eval/math500.h"
#include "worker/eval/math_expr.h"
#include "worker/eval/test_util.h"

namespace cohort::worker::eval {
namespace {

std::string Extract(const std::string& text, std::string* rule = nullptr) {
  std::string unused;
  return ExtractMathAnswer(text, rule != nullptr ? rule : &unused);
}

TEST(MathExtractTest, BoxedIsBraceMatchedAndLast) {
  std::string content;
  ASSERT_TRUE(LastBoxed("a \\boxed{1} b \\boxed{\\frac{1}{2}} c", &content));
  EXPECT_EQ(content, "\\frac{1}{2}");
  ASSERT_TRUE(LastBoxed("\\boxed{\\{1,2\\}}", &content));
  EXPECT_EQ(content, "\\{1,2\\}");
  ASSERT_TRUE(LastBoxed("$\\boxed 5$", &content));
  EXPECT_EQ(content, "5");
  ASSERT_TRUE(LastBoxed("\\fbox{7} then \\boxed{unterminated", &content));
  EXPECT_EQ(content, "7");
  EXPECT_FALSE(LastBoxed("no box", &content));
}

TEST(MathExtractTest, Rules) {
  std::string rule;
  EXPECT_EQ(Extract("Final Answer: The final answer is $\\frac{3}{4}$. I hope it is correct.",
                    &rule), "\\frac{3}{4}");
  EXPECT_EQ(rule, "final_answer_hope");
  EXPECT_EQ(Extract("so $x=2$ and \\boxed{2}", &rule), "2");
  EXPECT_EQ(rule, "boxed");
  EXPECT_EQ(Extract("The answer is $\\sqrt{2}$.", &rule), "\\sqrt{2}");
  EXPECT_EQ(rule, "answer_phrase");
  EXPECT_EQ(Extract("we find $y = 10$ in the end", &rule), "y = 10");
  EXPECT_EQ(rule, "last_math");
  EXPECT_EQ(Extract("it is 3/4 or so", &rule), "3/4");
  EXPECT_EQ(rule, "last_number");
  EXPECT_EQ(Extract("nothing", &rule), "");
  EXPECT_EQ(rule, "none");
}

TEST(MathNormalizeTest, HendrycksStyleRules) {
  EXPECT_EQ(NormalizeMathAnswer("\\dfrac12"), "\\frac{1}{2}");
  EXPECT_EQ(NormalizeMathAnswer("\\left( 3, \\frac{\\pi}{2} \\right)"), "(3,\\frac{\\pi}{2})");
  EXPECT_EQ(NormalizeMathAnswer("10\\text{ cm}"), "10");
  EXPECT_EQ(NormalizeMathAnswer("30^\\circ"), "30");
  EXPECT_EQ(NormalizeMathAnswer("50\\%"), "50");
  EXPECT_EQ(NormalizeMathAnswer("x = 5"), "5");
  EXPECT_EQ(NormalizeMathAnswer("10{,}080"), "10080");
  EXPECT_EQ(NormalizeMathAnswer("1,000"), "1000");
  EXPECT_EQ(NormalizeMathAnswer(".5"), "0.5");
  EXPECT_EQ(NormalizeMathAnswer("\\sqrt3"), "\\sqrt{3}");
  EXPECT_EQ(NormalizeMathAnswer("\\text{Monday}"), "Monday");
}

struct Pair {
  const char* gold;
  const char* predicted;
};

// What ctest shows after the name ("# GetParam() = ..."): the pair itself,
// not the struct's pointer bytes, which changed every build.
void PrintTo(const Pair& pair, std::ostream* os) {
  *os << '"' << pair.gold << "\" vs \"" << pair.predicted << '"';
}

// Test names a person can read and history can follow ("3_pi_vs_3_1416"),
// not gtest's default bytes of the struct.
std::string PairName(const ::testing::TestParamInfo<Pair>& info) {
  std::string name = std::to_string(info.index) + "_";
  for (const char* part : {info.param.gold, "_vs_", info.param.predicted}) {
    for (const char* c = part; *c != '\0' && name.size() < 48; ++c) {
      const bool word = std::isalnum(static_cast<unsigned char>(*c)) || *c == '_';
      if (word || name.back() != '_') name += word ? *c : '_';
    }
  }
  return name;
}

class EquivalentTest : public ::testing::TestWithParam<Pair> {};

TEST_P(EquivalentTest, Passes) {
  std::string how;
  EXPECT_TRUE(MathAnswersEquivalent(GetParam().gold, GetParam().predicted, &how))
      << GetParam().gold << " vs " << GetParam().predicted;
}

INSTANTIATE_TEST_SUITE_P(
    Math, EquivalentTest,
    ::testing::Values(
        Pair{"\\frac{1}{2}", "0.5"}, Pair{"\\frac{1}{2}", "1/2"},
        Pair{"\\frac{2}{4}", "\\tfrac{1}{2}"}, Pair{"\\frac{1}{3}", "0.333333"},
        Pair{"2\\sqrt{2}", "\\sqrt{8}"}, Pair{"\\sqrt[3]{-8}", "-2"},
        Pair{"\\frac{\\sqrt{3}}{3}", "\\frac{1}{\\sqrt{3}}"}, Pair{"2\\pi", "\\pi \\cdot 2"},
        Pair{"\\frac{\\pi}{2}", "1.5707963"}, Pair{"2^{10}", "1024"},
        Pair{"x^2+2x+1", "(x+1)^2"}, Pair{"3i", "\\sqrt{-9}"}, Pair{"1-i", "-i+1"},
        Pair{"(-\\infty, 3]", "(-\\infty,3]"}, Pair{"[1,2) \\cup (3,4]", "(3,4]\\cup[1,2)"},
        Pair{"\\left( 3, \\frac{\\pi}{2} \\right)", "(3, \\pi/2)"},
        Pair{"\\{1, 2\\}", "\\{2, 1\\}"}, Pair{"1, -2", "-2, 1"},
        Pair{"\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix}1\\\\2\\end{pmatrix}"},
        Pair{"\\begin{pmatrix} 1/2 & 0 \\\\ 0 & 1 \\end{pmatrix}",
             "\\begin{pmatrix} 0.5 & 0 \\\\ 0 & 1 \\end{pmatrix}"},
        Pair{"y = 2x + 3", "2x+3"}, Pair{"x + y = 1", "2x + 2y = 2"},
        Pair{"\\text{(C)}", "C"}, Pair{"5!", "120"}, Pair{"|{-3}|", "3"},
        Pair{"10\\%", "10"}, Pair{"1,000", "1000"}),
    PairName);

class NotEquivalentTest : public ::testing::TestWithParam<Pair> {};

TEST_P(NotEquivalentTest, Fails) {
  EXPECT_FALSE(MathAnswersEquivalent(GetParam().gold, GetParam().predicted))
      << GetParam().gold << " vs " << GetParam().predicted;
}

INSTANTIATE_TEST_SUITE_P(
    Math, NotEquivalentTest,
    ::testing::Values(
        Pair{"\\frac{1}{2}", "0.51"}, Pair{"\\frac{1}{3}", "0.33"},
        Pair{"1000000", "1000001"}, Pair{"2\\sqrt{2}", "\\sqrt{2}"},
        Pair{"x^2+1", "(x+1)^2"}, Pair{"(1,2)", "(2,1)"}, Pair{"[1,2]", "(1,2)"},
        Pair{"\\{1,2\\}", "\\{1,3\\}"}, Pair{"(3, \\frac{\\pi}{2})", "(3, \\pi)"},
        Pair{"\\text{(C)}", "D"}, Pair{"5", ""}, Pair{"", "5"},
        Pair{"1, -2", "1"}, Pair{"\\infty", "-\\infty"}, Pair{"3i", "3"},
        // Decimals are compared at a relative 1e-6: four or five digits of
        // pi, 1/3 or sqrt(2) are not the number (a 1e-3 tolerance passed
        // every earlier test).
        Pair{"\\pi", "3.1416"}, Pair{"\\frac{1}{3}", "0.333"}, Pair{"100", "100.05"},
        Pair{"\\sqrt{2}", "1.4142"}, Pair{"2\\pi", "6.2832"}),
    PairName);

TEST(MathExprTest, BoundedOnHostileInput) {
  EXPECT_FALSE(MathExpr::Parse(std::string(5000, '(')).ok());
  EXPECT_FALSE(MathExpr::Parse(std::string(300, '(') + "1" + std::string(300, ')')).ok());
  EXPECT_FALSE(MathExpr::Parse("\\frac{").ok());
  EXPECT_FALSE(MathExpr::Parse("1..2").ok());
  EXPECT_FALSE(MathAnswersEquivalent(std::string(3000, '{'), std::string(3000, '}')));
  EXPECT_FALSE(MathAnswersEquivalent("\\boxed{\\boxed{", "\xFF\xFE"));
}

TEST(Math500Test, ReferenceAnswersAndSolutionsScoreFull) {
  BenchSettings s = CardSettings("math500");
  ASSERT_OK_AND_ASSIGN(std::vector<Problem> problems,
                       LoadMath500(DatasetPath("math500/test.jsonl"), s));
  ASSERT_EQ(problems.size(), 500u);
  EXPECT_EQ(problems[0].id, "test/precalculus/807.json");
  EXPECT_EQ(problems[0].prompt.rfind("Problem:\nConvert the point", 0), 0u);
  int boxed_passed = 0;
  int wrong_passed = 0;
  for (size_t i = 0; i < problems.size(); ++i) {
    const Problem& p = problems[i];
    boxed_passed += ScoreMath500(p, "Thus the answer is $\\boxed{" + p.gold + "}$.", s).passed;
    const Problem& other = problems[(i + 1) % problems.size()];
    wrong_passed += ScoreMath500(p, "\\boxed{" + other.gold + "}", s).passed;
  }
  EXPECT_EQ(boxed_passed, 500);
  // The published worked solutions, scored as completions (their last
  // \boxed{} is the answer, as math_verify's gold is parsed from them).
  ASSERT_OK_AND_ASSIGN(std::vector<JsonLine> rows, ReadJsonLines(DatasetPath("math500/test.jsonl")));
  int solutions_passed = 0;
  for (size_t i = 0; i < problems.size(); ++i) {
    Verdict v = ScoreMath500(problems[i], rows[i].value["solution"].get<std::string>(), s);
    solutions_passed += v.passed;
    if (!v.passed) std::printf("solution %zu: gold %s extracted %s\n", i, problems[i].gold.c_str(), v.extracted.c_str());
  }
  std::printf("MATH-500 solutions scored as completions: %d/500\n", solutions_passed);
  EXPECT_EQ(solutions_passed, 500);
  // Neighbouring problems share an answer now and then (e.g. both "2").
  EXPECT_LE(wrong_passed, 10);
}

}  // namespace
}  // namespace cohort::worker::eval
