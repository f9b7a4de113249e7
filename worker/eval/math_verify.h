// File: math_verify.h
//
// Math-Verify, as lm-eval's minerva_math500 calls it, ported to C++:
//
//   parse(text)   the answers a text gives: regex candidates (LaTeX
//                 environments, \boxed, "final answer is", "answer:", plain
//                 numbers and expressions) tried by priority, the rightmost
//                 match first within a priority, the first one that
//                 converts to a value winning, plus the first candidate's
//                 normalised string as a fallback;
//   verify(g, t)  true when any gold answer equals any target answer:
//                 values by Math-Verify's comparison (numbers rounded to 6
//                 decimals when a float is involved, expressions, sets,
//                 intervals, tuples, matrices, relations, assignments,
//                 symbols), strings by equality.
//
// It follows Math-Verify 0.8.0 (commit 5d148cfa) with latex2sympy2_extended
// 1.10.2, the versions the protocol's lm-eval pins resolve to; SymPy is not
// used: values are compared numerically (math_verify_value.h).
// docs/benches.md gives the rules and the measured agreement with the
// reference; tests/data/reference_verdicts holds the table it is checked
// against. All functions are total.
#ifndef COHORT_WORKER_EVAL_MATH_VERIFY_H_
#define COHORT_WORKER_EVAL_MATH_VERIFY_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace cohort::worker::eval {

struct MvValue;

// One answer parse() found: a value (with the string it came from) or, for
// the fallback, a string only.
struct MathAnswer {
  std::shared_ptr<const MvValue> value;  // null for a string answer
  std::string text;
};

// Math-Verify's parse(text) with the default configs (LaTeX and expression
// extraction, fallback "first_match", extraction "any_match"). Texts over
// kMaxParseBytes are searched in their last kMaxParseBytes bytes.
std::vector<MathAnswer> MathVerifyParse(absl::string_view text);

// Math-Verify's verify(gold, target).
bool MathVerifyVerify(const std::vector<MathAnswer>& gold,
                      const std::vector<MathAnswer>& target);

// The answers' strings, "; "-joined (for a verdict's `extracted`).
std::string DescribeAnswers(const std::vector<MathAnswer>& answers);

// Math-Verify's LaTeX normalisation (latex2sympy2_extended normalize_latex
// with basic_latex, units, malformed_operators and nits on; `boxed_last`
// picks boxed="last" over "all").
std::string NormalizeLatexForVerify(absl::string_view latex, bool boxed_last);

inline constexpr size_t kMaxParseBytes = 64 * 1024;

}  // namespace cohort::worker::eval

#endif  // COHORT_WORKER_EVAL_MATH_VERIFY_H_
