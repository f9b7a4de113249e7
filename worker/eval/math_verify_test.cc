#include "worker/eval/math_verify.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/eval/math_verify_value.h"

namespace cohort::worker::eval {
namespace {

// Expected strings are latex2sympy2_extended 1.10.2's normalize_latex with
// Math-Verify's LatexExtractionConfig normalisation (boxed "all"; the last
// column with boxed "last"), printed by
//   python3 -c 'from latex2sympy2_extended.latex2sympy2 import normalize_latex, ...'
TEST(MathVerifyNormalizeTest, EqualsTheReferencesNormalisation) {
  struct Case {
    const char* in;
    const char* all;
    const char* last;
  };
  const Case cases[] = {
      {R"(\boxed{1} and \boxed{2})", "1,2", "1,2"},
      {R"(\boxed{1} then a long stretch of prose here \boxed{2})", "1,2", "2"},
      {R"(x = \text{Evelyn})", "x =", "x ="},
      {R"(\left( 3, \dfrac{\pi}{2} \right))", R"(( 3, \frac{\pi}{2} ))", R"(( 3, \frac{\pi}{2} ))"},
      {R"(10\text{ cm}^2)", "10", "10"},
      {"5 meters", "5", "5"},
      {R"(\frac12 + \sqrt3)", R"(\frac{1}{2} + \sqrt{3})", R"(\frac{1}{2} + \sqrt{3})"},
      {"2/3", R"(\frac{2}{3})", R"(\frac{2}{3})"},
      {".5", R"(\frac{1}{2})", R"(\frac{1}{2})"},
      {"1 and 2", "1, 2", "1, 2"},
      {R"(\$32,\!348)", "32,348", "32,348"},
      {R"(\mathrm{East})", R"(\text{East})", R"(\text{East})"},
      {R"(3 \text{ and } 4)", "3, 4", "3, 4"},
      {"50 percent", R"(50\%)", R"(50\%)"},
      {R"(\sqrt(2))", R"(\\sqrt{2})", R"(\\sqrt{2})"},
      {"x^(2)", "x^{2}", "x^{2}"},
      {"(5)_{2}", R"(\frac{(5)!}{((5)-(2))!})", R"(\frac{(5)!}{((5)-(2))!})"},
      {R"(\\frac{1}{2})", R"(\frac{1}{2})", R"(\frac{1}{2})"},
      {R"(\displaystyle \tfrac{1}{4})", R"(\frac{1}{4})", R"(\frac{1}{4})"},
      {"infinity", R"(\infty)", R"(\infty)"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(NormalizeLatexForVerify(c.in, false), c.all) << c.in;
    EXPECT_EQ(NormalizeLatexForVerify(c.in, true), c.last) << c.in;
  }
}

std::vector<std::string> Texts(const std::vector<MathAnswer>& answers) {
  std::vector<std::string> out;
  for (const MathAnswer& a : answers) out.push_back((a.value != nullptr ? "value:" : "") + a.text);
  return out;
}

// parse(): a value and the first candidate's string; the extracted values'
// strings are what math_verify.parse printed for the same text.
TEST(MathVerifyParseTest, PrioritiesRightmostMatchAndFallback) {
  using ::testing::ElementsAre;
  // A box (priority 50) beats a later bare number (300)...
  EXPECT_THAT(Texts(MathVerifyParse(R"($\boxed{3\sqrt{13}}$, which is about 10.8.)")),
              ElementsAre(R"(value:3\sqrt{13})", R"(3\sqrt{13})"));
  // ...but "final answer ... is" has the box's priority, and the rightmost wins.
  EXPECT_THAT(Texts(MathVerifyParse(R"($\boxed{3\sqrt{13}}$. The final answer is 10.8.)")),
              ElementsAre("value:10.8", "10.8"));
  // Minerva's "I hope it is correct" (priority 0) beats a later box.
  EXPECT_THAT(Texts(MathVerifyParse("Final Answer: The final answer is $3\\sqrt{13}$. I hope it "
                                    "is correct. Also $\\boxed{5}$.")),
              ElementsAre(R"(value:3\sqrt{13})", R"(3\sqrt{13})"));
  // Boxes joined by "or" are one set; a box whose content does not convert
  // leaves only its string.
  EXPECT_THAT(Texts(MathVerifyParse(R"(So $\boxed{1}$ or $\boxed{-2}$.)")),
              ElementsAre("value:1 and -2", "1 and -2"));
  EXPECT_THAT(Texts(MathVerifyParse(R"(Hence $\boxed{x = \text{Evelyn}}$.)")), ElementsAre("x ="));
  EXPECT_THAT(Texts(MathVerifyParse("**Answer:** East")), ElementsAre());
  EXPECT_THAT(Texts(MathVerifyParse("It costs \\$36.")), ElementsAre());
  EXPECT_THAT(Texts(MathVerifyParse("The answer is 15 percent.")), ElementsAre("value:15", "15"));
}

bool Verify(const std::string& gold, const std::string& target) {
  return MathVerifyVerify(MathVerifyParse(gold), MathVerifyParse(target));
}

// verify(): each line is a verdict math_verify.verify gave (gold first).
TEST(MathVerifyVerifyTest, ComparisonRules) {
  // Sets from "or", "\pm" and commas, in any order; one root is not both.
  EXPECT_TRUE(Verify(R"($\boxed{1 \pm \sqrt{19}}$)", R"($\boxed{1 + \sqrt{19}, 1 - \sqrt{19}}$)"));
  EXPECT_FALSE(Verify(R"($\boxed{1 \pm \sqrt{19}}$)", R"($\boxed{1 + \sqrt{19}}$)"));
  EXPECT_TRUE(Verify(R"($\boxed{1,-2}$)", R"(Thus the roots are $\boxed{-2}$ and $\boxed{1}$.)"));
  // Mixed numbers and number subscripts.
  EXPECT_TRUE(Verify(R"($\boxed{1\frac{4}{5}}$)", R"($\boxed{\frac{9}{5}}$)"));
  EXPECT_TRUE(Verify(R"($\boxed{52_8}$)", R"($\boxed{52}$)"));
  EXPECT_FALSE(Verify(R"($\boxed{52_8}$)", R"($\boxed{42_8}$)"));
  // Symbols are lower-cased; a word and \text{word} agree.
  EXPECT_TRUE(Verify(R"($\boxed{\text{east}}$)", R"($\boxed{\text{East}}$)"));
  EXPECT_TRUE(Verify(R"($\boxed{\text{east}}$)", R"($\boxed{East}$)"));
  // Tuples are ordered, sets are not, an open interval is a pair, a
  // matrix is not a tuple.
  EXPECT_TRUE(Verify(R"($\boxed{(-2,1)}$)", R"($\boxed{\{-2, 1\}}$)"));
  EXPECT_FALSE(Verify(R"($\boxed{(-2,1)}$)", R"($\boxed{(1,-2)}$)"));
  EXPECT_FALSE(Verify(R"($\boxed{(6,31,-1)}$)",
                      R"($\boxed{\begin{pmatrix} 6 \\ 31 \\ -1 \end{pmatrix}}$)"));
  EXPECT_FALSE(Verify(R"($\boxed{(2,\infty)}$)", R"($\boxed{[2, \infty)}$)"));
  EXPECT_TRUE(Verify(R"($\boxed{(-\infty, 2) \cup (3, \infty)}$)",
                     R"($\boxed{(3, \infty) \cup (-\infty, 2)}$)"));
  // Assignments: the right side counts; a different variable does not.
  EXPECT_TRUE(Verify(R"($\boxed{x=5}$)", R"($\boxed{5}$)"));
  EXPECT_FALSE(Verify(R"($\boxed{x=5}$)", R"($\boxed{y = 5}$)"));
  EXPECT_TRUE(Verify(R"($\boxed{\frac{3}{56}}$)", R"(Therefore, $\boxed{p(8) = \frac{3}{56}}$.)"));
  EXPECT_TRUE(Verify(R"($\boxed{y = 2x + 3}$)", R"($\boxed{2x - y + 3 = 0}$)"));
  // Floats round to 6 decimals; an exact value computed in floats is not exact.
  EXPECT_TRUE(Verify(R"($\boxed{-\frac{\pi}{6}}$)", R"($\boxed{-0.523599}$)"));
  EXPECT_FALSE(Verify(R"($\boxed{\frac{14}{3}}$)", R"($\boxed{4.67}$)"));
  EXPECT_FALSE(Verify(R"($\boxed{\frac{14}{3}}$)", "So the sum is 14/3."));
  EXPECT_TRUE(Verify(R"($\boxed{\frac{14}{3}}$)", "So the sum is 14/3"));
  // A percentage is a hundredth; degrees are dropped.
  EXPECT_TRUE(Verify(R"($\boxed{\frac{3}{20}}$)", R"($\boxed{15\%}$)"));
  EXPECT_TRUE(Verify(R"($\boxed{90^\circ}$)", R"($\boxed{90}$)"));
}

TEST(MathVerifyParseTest, TotalOnHostileInput) {
  for (const std::string& unit : {std::string("$"), std::string("\\boxed{"), std::string("answer: "),
                                  std::string("{"), std::string("\\frac{1}{2}"), std::string("(")}) {
    std::string text;
    while (text.size() < 3 * kMaxParseBytes / 2) text += unit;
    std::vector<MathAnswer> answers = MathVerifyParse(text);
    EXPECT_LE(answers.size(), 2u) << unit;
  }
  EXPECT_FALSE(Verify(std::string(5000, '('), std::string(5000, '(')));
  std::string invalid_utf8 = "\\boxed{\xff\xfe}";
  EXPECT_FALSE(Verify("$\\boxed{1}$", invalid_utf8));
}

}  // namespace
}  // namespace cohort::worker::eval
