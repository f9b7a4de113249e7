// File: math_answer.h
//
// Math answers for MATH-500's older extractor `math_equiv_v1` (the
// protocol's `math_verify_v1` is math_verify.h): extraction from a
// completion, LaTeX normalisation, and an equivalence checker, a native
// approximation of math_verify kept so results scored with it can be
// reproduced (docs/benches.md says where it differs):
//   1. the normalised strings are equal (Hendrycks strip_string-style rules:
//      \left/\right, \dfrac, units in \text{}, degrees, percent, "x =",
//      \sqrt3, \frac12, thousands separators, a leading ".5");
//   2. else both parse into the same shape and agree part by part:
//      tuples/points "(a,b)" and intervals "[a,b)" (brackets must match),
//      sets "\{a,b\}" and bare lists "a, b" (any order), unions "A \cup B",
//      matrices (pmatrix/bmatrix as nested tuples), equations "l = r"
//      (l - r proportional), and expressions, which agree numerically at
//      fixed sample points (fractions, roots, pi, powers, i, variables);
//   3. else multiple-choice letters "(C)" / "\text{(C)}" / "C" agree.
// All functions are total; inputs over kMaxExpressionBytes skip step 2.
#ifndef COHORT_WORKER_EVAL_MATH_ANSWER_H_
#define COHORT_WORKER_EVAL_MATH_ANSWER_H_

#include <string>

#include "absl/strings/string_view.h"

namespace cohort::worker::eval {

// Content of the last complete \boxed{...} / \fbox{...} (or "\boxed x");
// false when there is none.
bool LastBoxed(absl::string_view text, std::string* content);

// The answer a completion gives. `rule` gets "final_answer_hope",
// "boxed", "answer_phrase", "last_math", "last_number" or "none".
std::string ExtractMathAnswer(absl::string_view text, std::string* rule);

// The comparison form of an answer (string step 1 above).
std::string NormalizeMathAnswer(absl::string_view answer);

// True when `predicted` is an equivalent answer to `gold`. `how` (if not
// null) gets "string", "structure", "letter" or "none".
bool MathAnswersEquivalent(absl::string_view gold, absl::string_view predicted,
                           std::string* how = nullptr);

}  // namespace cohort::worker::eval

#endif  // COHORT_WORKER_EVAL_MATH_ANSWER_H_
