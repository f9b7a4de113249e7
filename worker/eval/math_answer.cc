// Structural comparison half of math_answer.h (normalisation and
// extraction are in math_normalize.cc).
#include "worker/eval/math_answer.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "re2/re2.h"
#include "worker/eval/math_expr.h"
#include "worker/eval/text_util.h"

namespace cohort::worker::eval {
namespace {

constexpr int kMaxDepth = 8;

bool SetBraces(const std::string& s, std::string* inner) {
  if (s.size() < 4 || !absl::StartsWith(s, "\\{") || !absl::EndsWith(s, "\\}")) {
    return false;
  }
  *inner = s.substr(2, s.size() - 4);
  return true;
}

// pmatrix/bmatrix as nested tuples: rows "\\", cells "&".
std::string MatrixToTuples(std::string s) {
  for (const char* env : {"pmatrix", "bmatrix", "matrix", "array"}) {
    s = absl::StrReplaceAll(s, {{absl::StrCat("\\begin{", env, "}"), "(("},
                                {absl::StrCat("\\end{", env, "}"), "))"}});
  }
  if (!absl::StartsWith(s, "((")) return s;
  return absl::StrReplaceAll(s, {{"\\\\", "),("}, {"&", ","}});
}

bool Equivalent(const std::string& a, const std::string& b, int depth);

bool OrderedMatch(const std::vector<std::string>& a, const std::vector<std::string>& b,
                  int depth) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!Equivalent(a[i], b[i], depth + 1)) return false;
  }
  return true;
}

// Greedy matching is enough: equivalence is transitive, so any match of
// b[j] to an equivalent a[i] is as good as any other.
bool UnorderedMatch(const std::vector<std::string>& a,
                    const std::vector<std::string>& b, int depth) {
  if (a.size() != b.size() || a.size() > 64) return false;
  std::vector<bool> used(b.size(), false);
  for (const std::string& x : a) {
    bool matched = false;
    for (size_t j = 0; j < b.size() && !matched; ++j) {
      if (!used[j] && Equivalent(x, b[j], depth + 1)) used[j] = matched = true;
    }
    if (!matched) return false;
  }
  return true;
}

bool ExpressionEquivalent(const std::string& a, const std::string& b) {
  std::vector<std::string> ea = SplitTopLevel(a, "=");
  std::vector<std::string> eb = SplitTopLevel(b, "=");
  if (ea.size() == 2 && eb.size() == 2) {
    MathExpr da = MathExpr::Parse(absl::StrCat("(", ea[0], ")-(", ea[1], ")"));
    MathExpr db = MathExpr::Parse(absl::StrCat("(", eb[0], ")-(", eb[1], ")"));
    return ExpressionsProportional(da, db);
  }
  if (ea.size() != 1 || eb.size() != 1) return false;
  return ExpressionsEqual(MathExpr::Parse(a), MathExpr::Parse(b));
}

bool Equivalent(const std::string& a, const std::string& b, int depth) {
  if (a == b) return true;
  if (depth > kMaxDepth || a.empty() || b.empty()) return false;
  std::vector<std::string> ua = SplitTopLevel(a, "\\cup");
  std::vector<std::string> ub = SplitTopLevel(b, "\\cup");
  if (ua.size() > 1 || ub.size() > 1) return UnorderedMatch(ua, ub, depth);
  std::string ia;
  std::string ib;
  if (SetBraces(a, &ia) && SetBraces(b, &ib)) {
    return UnorderedMatch(SplitTopLevel(ia, ","), SplitTopLevel(ib, ","), depth);
  }
  char oa, ca, ob, cb;
  if (Bracketed(a, &oa, &ca, &ia) && Bracketed(b, &ob, &cb, &ib)) {
    std::vector<std::string> pa = SplitTopLevel(ia, ",");
    std::vector<std::string> pb = SplitTopLevel(ib, ",");
    if (pa.size() > 1 || pb.size() > 1) {
      return oa == ob && ca == cb && OrderedMatch(pa, pb, depth);
    }
  }
  std::vector<std::string> la = SplitTopLevel(a, ",");
  std::vector<std::string> lb = SplitTopLevel(b, ",");
  if (la.size() > 1 || lb.size() > 1) return UnorderedMatch(la, lb, depth);
  return ExpressionEquivalent(a, b);
}

// "(C)", "C", "\text{(C)}" after normalisation: the letter, else "".
std::string ChoiceLetter(const std::string& normalized) {
  static const RE2 kLetter("^\\(?([A-Ea-e])\\)?$");
  std::string letter;
  return RE2::FullMatch(normalized, kLetter, &letter) ? AsciiLower(letter) : "";
}

}  // namespace

bool MathAnswersEquivalent(absl::string_view gold, absl::string_view predicted,
                           std::string* how) {
  std::string unused;
  if (how == nullptr) how = &unused;
  // Answers are short; normalising megabytes of text would cost quadratic
  // time in the rewrites, and no real answer is that long.
  constexpr size_t kMaxAnswerBytes = 16 * 1024;
  if (gold.size() > kMaxAnswerBytes || predicted.size() > kMaxAnswerBytes) {
    *how = gold == predicted ? "string" : "none";
    return gold == predicted;
  }
  std::string a = NormalizeMathAnswer(gold);
  std::string b = NormalizeMathAnswer(predicted);
  if (!a.empty() && a == b) { *how = "string"; return true; }
  if (a.empty() || b.empty()) { *how = "none"; return false; }
  if (a.size() <= kMaxExpressionBytes && b.size() <= kMaxExpressionBytes &&
      Equivalent(MatrixToTuples(a), MatrixToTuples(b), 0)) {
    { *how = "structure"; return true; }
  }
  std::string la = ChoiceLetter(a);
  if (!la.empty() && la == ChoiceLetter(b)) { *how = "letter"; return true; }
  *how = "none";
  return false;
}

}  // namespace cohort::worker::eval
