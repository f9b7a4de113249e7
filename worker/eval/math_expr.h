// File: math_expr.h
//
// A small LaTeX math expression parser and numeric evaluator, the engine of
// the MATH-500 equivalence checker. It understands numbers (integers,
// decimals), single-letter variables and Greek letters, + - * / ^, implicit
// multiplication, \frac/\dfrac/\tfrac, \sqrt and \sqrt[n], \pi, \infty, i
// (the imaginary unit), \cdot, \times, \div, factorial, |x|, and the common
// functions (\sin \cos \tan \sec \csc \cot \arcsin \arccos \arctan \ln \log
// \exp). Values are complex doubles, so sqrt(-4) = 2i.
//
// Two expressions are "equal" when they agree numerically at several fixed
// assignments of their free variables (a probabilistic identity test; it
// proves x^2+2x+1 == (x+1)^2 and distinguishes almost everything else).
// Inputs longer than kMaxExpressionBytes or nested deeper than 100 levels
// are refused, so the parser's work and stack are bounded on any input.
#ifndef COHORT_WORKER_EVAL_MATH_EXPR_H_
#define COHORT_WORKER_EVAL_MATH_EXPR_H_

#include <complex>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace cohort::worker::eval {

inline constexpr size_t kMaxExpressionBytes = 4000;

struct ExprNode;

// A parsed expression. Copyable handle; immutable after parsing.
class MathExpr {
 public:
  // nullptr-equivalent (ok() false) when `text` is not an expression.
  static MathExpr Parse(absl::string_view text);

  bool ok() const { return root_ != nullptr; }
  // Free variable names ("x", "\theta").
  const std::set<std::string>& variables() const { return variables_; }
  // True when a decimal literal appears (the comparison then allows
  // rounding to about 6 significant digits).
  bool has_decimal() const { return has_decimal_; }
  std::complex<double> Evaluate(
      const std::map<std::string, std::complex<double>>& vars) const;

 private:
  std::shared_ptr<const ExprNode> root_;
  std::set<std::string> variables_;
  bool has_decimal_ = false;
};

// Numeric equality of two evaluated values: relative tolerance 1e-6 when
// `loose` (a decimal was written), 1e-9 otherwise; equal infinities match.
bool NumbersClose(std::complex<double> a, std::complex<double> b, bool loose);

// a and b agree at every sample assignment of their joint variables.
bool ExpressionsEqual(const MathExpr& a, const MathExpr& b);

// a and b are non-zero multiples of each other at every sample point (for
// equations written as lhs - rhs: 2x+2y-2 ~ x+y-1).
bool ExpressionsProportional(const MathExpr& a, const MathExpr& b);

// LaTeX structure helpers shared by the MATH-500 checkers.

// Splits on `sep` where no bracket of any kind is open. Intervals mix
// brackets ("[1,2)"), so all kinds share one depth counter. Set braces
// "\{ \}" nest only when `set_braces_nest`.
std::vector<std::string> SplitTopLevel(absl::string_view s, absl::string_view sep,
                                       bool set_braces_nest = false);

// "(...)" or "[...)" etc. whose outer brackets enclose the whole string:
// the brackets and what lies between them.
bool Bracketed(const std::string& s, char* open, char* close, std::string* inner);

}  // namespace cohort::worker::eval

#endif  // COHORT_WORKER_EVAL_MATH_EXPR_H_
