// libFuzzer target: the answer extractors and normalizers of worker/eval
// (GSM8K, MATH-500 with Math-Verify's parse/verify and the older equivalence check, AIME, ARC, GPQA) on arbitrary
// model output.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "worker/eval/aime.h"
#include "worker/eval/arc.h"
#include "worker/eval/gpqa.h"
#include "worker/eval/gsm8k.h"
#include "worker/eval/math_answer.h"
#include "worker/eval/math_verify.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace eval = cohort::worker::eval;
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  std::string rule;
  eval::NormalizeGsm8k(eval::ExtractGsm8kFlexible(text));
  std::string math = eval::ExtractMathAnswer(text, &rule);
  eval::NormalizeMathAnswer(math);
  // The equivalence check parses both sides as expressions.
  absl::string_view half = text.substr(0, text.size() / 2);
  eval::MathAnswersEquivalent(half, text.substr(half.size()));
  // Math-Verify's parse and verify, both sides from the input.
  eval::MathVerifyVerify(eval::MathVerifyParse(half), eval::MathVerifyParse(text.substr(half.size())));
  eval::NormalizeLatexForVerify(text, /*boxed_last=*/true);
  eval::ExtractAimeAnswer(text, true, &rule);
  eval::ExtractAimeAnswer(text, false, &rule);
  eval::ExtractArcLetter(text, &rule);
  eval::ExtractGpqaFlexible(text, {"4", "x^2 + 1", "none of these", "\\frac{1}{2}"}, &rule);
  return 0;
}
