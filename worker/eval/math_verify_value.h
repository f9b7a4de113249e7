// File: math_verify_value.h
//
// The values Math-Verify's parse() yields (SymPy objects built by
// latex2sympy2_extended), modelled for the comparison verify() makes, and
// the two halves that need them: converting normalised LaTeX (or a plain
// expression) into a value, and comparing a gold value with a predicted one
// as Math-Verify's sympy_expr_eq does (assignments, relations, sets,
// intervals, tuples, matrices, symbols, numbers). docs/benches.md lists the
// rules and where the port differs. Internal to worker/eval (math_verify.h
// is the public face).
#ifndef COHORT_WORKER_EVAL_MATH_VERIFY_VALUE_H_
#define COHORT_WORKER_EVAL_MATH_VERIFY_VALUE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "worker/eval/math_expr.h"

namespace cohort::worker::eval {

struct MvValue {
  enum class Kind {
    kExpr,      // a number or an expression (MathExpr)
    kSymbol,    // one symbol: a letter, a Greek letter or a \text{word}
    kSet,       // FiniteSet (items, unordered)
    kTuple,     // Tuple (items, ordered)
    kInterval,  // items[0], items[1] with open ends
    kMatrix,    // items are the rows, each a kTuple
    kUnion,     // a set union (items, each a set-like value)
    kReals,     // \mathbb{R}
    kEmpty,     // the empty set
    kRelation,  // items[0] op items[1]
    kAnd,       // a chain a = b = c: items are relations
  };
  Kind kind = Kind::kExpr;
  std::string text;  // kExpr: the expression; kSymbol: the lowercased name
  MathExpr expr;
  bool is_number = false;  // a single number literal (SymPy Number)
  bool is_float = false;   // a decimal literal (SymPy Float)
  std::vector<MvValue> items;
  bool left_open = false;
  bool right_open = false;
  std::string op;  // kRelation: "=", "<", "<=", ">", ">=", "!="
};

// latex2sympy2_extended's reading of already normalised LaTeX; nullopt
// where it raises (Math-Verify then tries the next candidate).
std::optional<MvValue> ConvertLatex(absl::string_view latex);

// A number the expression extractor read ("1234.5"), scaled by 1/100 when
// it carried a percent sign.
MvValue NumberValue(const std::string& number, bool percent);

// sympy.parse_expr of a plain expression ("3/4 + 1"); nullopt on failure.
std::optional<MvValue> ConvertPlainExpression(absl::string_view expr);

// Math-Verify's sympy_expr_eq(gold, pred) with float_rounding=6,
// numeric_precision=15, strict=True, allow_set_relation_comp=False.
bool MvEqual(const MvValue& gold, const MvValue& pred);

// The value a set of and/or-joined answers forms (FiniteSet of the parts,
// sets flattened).
MvValue JoinAsSet(std::vector<MvValue> parts);

// A percentage: value * 1/100.
MvValue Percent(MvValue value);

}  // namespace cohort::worker::eval

#endif  // COHORT_WORKER_EVAL_MATH_VERIFY_VALUE_H_
