// Values, conversion and comparison for the Math-Verify port (see
// math_verify_value.h). The conversion follows latex2sympy2_extended 1.10.2
// (the version Math-Verify 0.8.0 pins) where it decides what an answer *is*:
// top-level commas make a set, "\pm" two elements, "(a,b)" an open interval
// when a < b (else a tuple), three or more parenthesised items a tuple,
// "\{...\}" a set, matrix environments a matrix, relations (=, <, \le, ...)
// and their chains, \text{...} a symbol, every symbol lower-cased, a number
// followed by a fraction a mixed number (1\frac{1}{4} = 5/4), a subscript
// after a number dropped (52_8 = 52), a trailing \% a factor 1/100.
#include "worker/eval/math_verify_value.h"

#include <cmath>
#include <complex>
#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "re2/re2.h"

namespace cohort::worker::eval {
namespace {

using Kind = MvValue::Kind;
using Complex = std::complex<double>;

constexpr int kMaxDepth = 12;

std::string Trim(absl::string_view s) { return std::string(absl::StripAsciiWhitespace(s)); }

MvValue Make(Kind kind, std::vector<MvValue> items = {}) {
  MvValue v;
  v.kind = kind;
  v.items = std::move(items);
  return v;
}

bool IsSetLike(const MvValue& v) {
  return v.kind == Kind::kSet || v.kind == Kind::kInterval || v.kind == Kind::kUnion ||
         v.kind == Kind::kReals || v.kind == Kind::kEmpty;
}
bool IsSetOrTuple(const MvValue& v) { return IsSetLike(v) || v.kind == Kind::kTuple; }
bool IsRelation(const MvValue& v) { return v.kind == Kind::kRelation || v.kind == Kind::kAnd; }

// ---------------------------------------------------------------- conversion

// Two set elements SymPy would store once: equal constants or equal texts.
bool SameElement(const MvValue& a, const MvValue& b) {
  if (a.kind != b.kind) return false;
  if (a.kind == Kind::kExpr && a.expr.variables().empty() && b.expr.variables().empty()) {
    Complex x = a.expr.Evaluate({});
    Complex y = b.expr.Evaluate({});
    if (std::isfinite(x.real()) && std::isfinite(y.real())) return NumbersClose(x, y, false);
  }
  return (a.kind == Kind::kExpr || a.kind == Kind::kSymbol) && a.text == b.text;
}

// A FiniteSet: duplicates dropped, as SymPy drops them.
MvValue MakeSet(std::vector<MvValue> items) {
  MvValue set = Make(Kind::kSet);
  for (MvValue& item : items) {
    bool seen = false;
    for (const MvValue& kept : set.items) seen = seen || SameElement(kept, item);
    if (!seen) set.items.push_back(std::move(item));
  }
  return set;
}

std::optional<MvValue> ConvertAll(absl::string_view latex, int depth);
std::optional<MvValue> ConvertSetOrExpr(const std::string& s, int depth);

// Rewrites latex2sympy reads differently from MathExpr: symbols lower-cased
// (lowercase_symbols=True), mixed numbers, subscripts after numbers.
std::string PrepareExpression(std::string s) {
  // convert_degrees=False: a degree sign is dropped (90^\circ is 90).
  static const RE2 kDegrees("\\^\\{?\\\\circ\\}?");
  RE2::GlobalReplace(&s, kDegrees, "");
  static const RE2 kMixed("(^|[^0-9.^_{}a-zA-Z])([0-9]+)\\s*\\\\frac\\{([0-9]+)\\}\\{([0-9]+)\\}");
  RE2::GlobalReplace(&s, kMixed, "\\1(\\2+\\\\frac{\\3}{\\4})");
  static const RE2 kNumberSubscript("([0-9])_(?:\\{[^{}]*\\}|[0-9A-Za-z])");
  RE2::GlobalReplace(&s, kNumberSubscript, "\\1");
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\') {
      out += s[i];
      while (i + 1 < s.size() && absl::ascii_isalpha(s[i + 1])) out += s[++i];
      continue;
    }
    out += absl::ascii_tolower(s[i]);
  }
  return out;
}

bool IsNumberLiteral(const std::string& s, bool* is_float) {
  static const RE2 kNumber("-?[0-9]+(\\.[0-9]*)?|-?\\.[0-9]+");
  if (!RE2::FullMatch(s, kNumber)) return false;
  *is_float = s.find('.') != std::string::npos;
  return true;
}

std::optional<MvValue> ConvertExpression(const std::string& raw) {
  std::string s = Trim(raw);
  if (s.empty()) return std::nullopt;
  bool percent = false;
  for (absl::string_view suffix : {"\\%", "%"}) {
    if (absl::EndsWith(s, suffix)) {
      s.resize(s.size() - suffix.size());
      percent = true;
      break;
    }
  }
  if (percent) {
    std::optional<MvValue> base = ConvertExpression(s);
    if (!base.has_value()) return std::nullopt;
    return Percent(*std::move(base));
  }
  // \text{...} alone: a symbol named by its text (spaces and parentheses
  // dropped, lower-cased), so \text{(C)} is "c" and \text{East} is "east".
  static const RE2 kText("\\\\(?:text|mbox|textbf|mathrm)\\{([^{}]*)\\}");
  std::string word;
  if (RE2::FullMatch(s, kText, &word)) {
    word = absl::StrReplaceAll(word, {{" ", ""}, {"(", ""}, {")", ""}});
    if (word.empty()) return std::nullopt;
    MvValue v = Make(Kind::kSymbol);
    v.text = absl::AsciiStrToLower(word);
    return v;
  }
  static const RE2 kSymbol("[A-Za-z]|\\\\(?:alpha|beta|gamma|delta|theta|lambda|mu|sigma|phi|omega|"
                           "epsilon|rho|tau|psi|chi|eta|zeta|kappa|nu|xi)");
  if (RE2::FullMatch(s, kSymbol) && s != "i" && s != "I" && s != "e" && s != "E") {
    MvValue v = Make(Kind::kSymbol);
    v.text = absl::AsciiStrToLower(s);
    return v;
  }
  MvValue v;
  v.kind = Kind::kExpr;
  v.text = PrepareExpression(s);
  v.is_number = IsNumberLiteral(v.text, &v.is_float);
  v.expr = MathExpr::Parse(v.text);
  if (!v.expr.ok()) return std::nullopt;
  return v;
}

// "(a, b)" with a < b is an open interval; an empty one is a tuple.
bool EmptyInterval(const MvValue& a, const MvValue& b, bool left_open, bool right_open) {
  if (a.kind != Kind::kExpr || b.kind != Kind::kExpr || !a.expr.variables().empty() ||
      !b.expr.variables().empty()) {
    return false;
  }
  Complex x = a.expr.Evaluate({});
  Complex y = b.expr.Evaluate({});
  if (x.imag() != 0 || y.imag() != 0 || std::isnan(x.real()) || std::isnan(y.real())) {
    return false;
  }
  if (left_open && right_open) return y.real() <= x.real();
  if (!left_open && !right_open) return y.real() < x.real();
  return false;
}

std::optional<MvValue> ConvertMatrix(const std::string& s) {
  static const RE2 kMatrix(
      "(?s)\\\\begin\\{([pbvB]?matrix|array)\\}(?:\\{[^{}]*\\})?(.*)\\\\end\\{(?:[pbvB]?matrix|array)\\}");
  std::string env;
  std::string body;
  if (!RE2::FullMatch(s, kMatrix, &env, &body)) return std::nullopt;
  MvValue m = Make(Kind::kMatrix);
  size_t width = 0;
  for (const std::string& row : SplitTopLevel(body, "\\\\")) {
    if (Trim(row).empty()) continue;
    MvValue r = Make(Kind::kTuple);
    for (const std::string& cell : SplitTopLevel(row, "&")) {
      std::optional<MvValue> c = ConvertExpression(cell);
      if (!c.has_value()) return std::nullopt;
      r.items.push_back(*std::move(c));
    }
    if (width != 0 && r.items.size() != width) return std::nullopt;
    width = r.items.size();
    m.items.push_back(std::move(r));
  }
  if (m.items.empty()) return std::nullopt;
  return m;
}

std::optional<MvValue> ConvertBracketed(const std::string& s, int depth) {
  char open;
  char close;
  std::string inner;
  if (!Bracketed(s, &open, &close, &inner)) return std::nullopt;
  std::vector<std::string> parts = SplitTopLevel(inner, ",", true);
  if (parts.size() == 1) return std::nullopt;  // "(x)": an expression
  std::vector<MvValue> items;
  for (const std::string& part : parts) {
    std::optional<MvValue> item = ConvertAll(part, depth + 1);
    if (!item.has_value()) return std::nullopt;
    items.push_back(*std::move(item));
  }
  bool left_open = open == '(';
  bool right_open = close == ')';
  if (items.size() == 2 && !EmptyInterval(items[0], items[1], left_open, right_open)) {
    MvValue v = Make(Kind::kInterval, std::move(items));
    v.left_open = left_open;
    v.right_open = right_open;
    return v;
  }
  return Make(Kind::kTuple, std::move(items));
}

std::optional<MvValue> ConvertSetOrExpr(const std::string& raw, int depth) {
  std::string s = Trim(raw);
  if (s.empty() || depth > kMaxDepth) return std::nullopt;
  std::vector<std::string> union_parts = SplitTopLevel(s, "\\cup", true);
  if (union_parts.size() > 1) {
    MvValue u = Make(Kind::kUnion);
    for (const std::string& part : union_parts) {
      std::optional<MvValue> p = ConvertSetOrExpr(part, depth + 1);
      if (!p.has_value()) return std::nullopt;
      if (p->kind == Kind::kTuple) p->kind = Kind::kSet;
      u.items.push_back(*std::move(p));
    }
    return u;
  }
  if (s == "\\mathbb{R}" || s == "\\mathbb R") return Make(Kind::kReals);
  if (s == "\\emptyset" || s == "\\varnothing" || s == "\\{\\}") return Make(Kind::kEmpty);
  if (absl::StartsWith(s, "\\{") && absl::EndsWith(s, "\\}") &&
      SplitTopLevel(s.substr(2, s.size() - 4), "\\}", true).size() == 1) {
    std::optional<MvValue> inner = ConvertAll(s.substr(2, s.size() - 4), depth + 1);
    if (!inner.has_value()) return std::nullopt;
    if (inner->kind == Kind::kSet) return inner;
    return MakeSet({*std::move(inner)});
  }
  if (absl::StrContains(s, "\\begin{")) return ConvertMatrix(s);
  if (std::optional<MvValue> b = ConvertBracketed(s, depth); b.has_value()) return b;
  return ConvertExpression(s);
}

// Relation operators, longest first so "\leq" is not read as "\le" + "q".
struct RelOp {
  const char* token;
  const char* op;
};
constexpr RelOp kRelOps[] = {{"\\leq", "<="}, {"\\geq", ">="}, {"\\neq", "!="},
                             {"\\le", "<="},  {"\\ge", ">="},  {"\\ne", "!="},
                             {"\\lt", "<"},   {"\\gt", ">"},
                             {"<", "<"},      {">", ">"},      {"=", "="}};

// Splits a relation chain "a < b \le c" at top level.
void SplitRelations(const std::string& s, std::vector<std::string>* sides,
                    std::vector<std::string>* ops) {
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '(' || c == '[' || c == '{') ++depth;
    if (c == ')' || c == ']' || c == '}') --depth;
    if (depth != 0) {
      if (c == '\\') ++i;
      continue;
    }
    for (const RelOp& rel : kRelOps) {
      absl::string_view token(rel.token);
      if (absl::string_view(s).substr(i, token.size()) != token) continue;
      if (token[0] == '\\' && i + token.size() < s.size() &&
          absl::ascii_isalpha(s[i + token.size()])) {
        continue;  // "\left", "\infty": a longer command
      }
      sides->push_back(s.substr(start, i - start));
      ops->push_back(rel.op);
      start = i + token.size();
      i = start - 1;
      break;
    }
    if (c == '\\' && start != i + 1) {
      while (i + 1 < s.size() && absl::ascii_isalpha(s[i + 1])) ++i;
    }
  }
  sides->push_back(s.substr(start));
}

// "a \pm b" is two values (a+b, a-b), "\pm b" two (-b, b); else one.
std::optional<std::vector<MvValue>> ConvertPlusMinus(const std::string& s, int depth) {
  std::vector<std::string> pm = SplitTopLevel(s, "\\pm", true);
  if (pm.size() == 1) {
    std::optional<MvValue> v = ConvertSetOrExpr(s, depth + 1);
    if (!v.has_value()) return std::nullopt;
    return std::vector<MvValue>{*std::move(v)};
  }
  if (pm.size() != 2) return std::nullopt;
  std::string a = Trim(pm[0]);
  std::optional<MvValue> first =
      ConvertExpression(a.empty() ? absl::StrCat("-(", pm[1], ")") : absl::StrCat(a, "+(", pm[1], ")"));
  std::optional<MvValue> second =
      ConvertExpression(a.empty() ? pm[1] : absl::StrCat(a, "-(", pm[1], ")"));
  if (!first.has_value() || !second.has_value()) return std::nullopt;
  return std::vector<MvValue>{*std::move(first), *std::move(second)};
}

// One side of a relation: "x \in S" is the equation x = S (binding tighter
// than "=", as the reference's grammar has it); "a \pm b" a set.
std::optional<MvValue> ConvertSide(const std::string& s, int depth) {
  std::vector<std::string> in = SplitTopLevel(s, "\\in ", true);
  if (in.size() == 2) {
    std::optional<MvValue> lhs = ConvertSide(in[0], depth + 1);
    std::optional<MvValue> rhs = ConvertSide(in[1], depth + 1);
    if (!lhs.has_value() || !rhs.has_value()) return std::nullopt;
    MvValue r = Make(Kind::kRelation, {*std::move(lhs), *std::move(rhs)});
    r.op = "=";
    return r;
  }
  std::optional<std::vector<MvValue>> values = ConvertPlusMinus(s, depth);
  if (!values.has_value()) return std::nullopt;
  if (values->size() == 1) return std::move((*values)[0]);
  return MakeSet(*std::move(values));
}

std::optional<std::vector<MvValue>> ConvertElement(const std::string& raw, int depth) {
  std::string s = Trim(raw);
  std::vector<std::string> sides;
  std::vector<std::string> ops;
  SplitRelations(s, &sides, &ops);
  if (sides.size() == 1 && SplitTopLevel(s, "\\in ", true).size() == 1) {
    return ConvertPlusMinus(s, depth);  // "1 \pm \sqrt{2}" is two elements
  }
  std::vector<MvValue> values;
  for (const std::string& side : sides) {
    std::optional<MvValue> v = ConvertSide(side, depth + 1);
    if (!v.has_value()) return std::nullopt;
    values.push_back(*std::move(v));
  }
  if (values.size() == 1) return values;
  std::vector<MvValue> relations;
  for (size_t i = 0; i + 1 < values.size(); ++i) {
    MvValue r = Make(Kind::kRelation, {values[i], values[i + 1]});
    r.op = ops[i];
    relations.push_back(std::move(r));
  }
  if (relations.size() == 1) return relations;
  return std::vector<MvValue>{Make(Kind::kAnd, std::move(relations))};
}

std::optional<MvValue> ConvertAll(absl::string_view latex, int depth) {
  std::string s = Trim(latex);
  if (s.empty() || depth > kMaxDepth) return std::nullopt;
  // "1,000": a number with thousands separators, not the set {1, 0}.
  static const RE2 kCommaNumber("\\s*-?\\d{1,3}(,\\d{3})+(\\.\\d+)?\\s*");
  if (RE2::FullMatch(s, kCommaNumber)) {
    return ConvertExpression(absl::StrReplaceAll(s, {{",", ""}}));
  }
  std::vector<std::vector<MvValue>> groups;
  for (const std::string& group : SplitTopLevel(s, ";", true)) {
    std::vector<MvValue> elements;
    for (const std::string& element : SplitTopLevel(group, ",", true)) {
      std::optional<std::vector<MvValue>> values = ConvertElement(element, depth);
      if (!values.has_value()) return std::nullopt;
      for (MvValue& v : *values) elements.push_back(std::move(v));
    }
    groups.push_back(std::move(elements));
  }
  if (groups.size() == 1) {
    if (groups[0].size() == 1) return std::move(groups[0][0]);
    return MakeSet(std::move(groups[0]));
  }
  std::vector<MvValue> items;
  for (std::vector<MvValue>& g : groups) {
    items.push_back(g.size() == 1 ? std::move(g[0]) : Make(Kind::kTuple, std::move(g)));
  }
  return MakeSet(std::move(items));
}

// ---------------------------------------------------------------- comparison

bool Equal(const MvValue& gold, const MvValue& pred, int depth);

// The value as an expression MathExpr can read ("" when it is no expression).
std::string ExprText(const MvValue& v) {
  if (v.kind == Kind::kExpr) return v.text;
  if (v.kind == Kind::kSymbol && v.text.size() == 1) return v.text;
  return "";
}

std::optional<Complex> ConstantValue(const MvValue& v) {
  if (v.kind != Kind::kExpr || !v.expr.variables().empty()) return std::nullopt;
  Complex z = v.expr.Evaluate({});
  if (std::isnan(z.real()) || std::isnan(z.imag())) return std::nullopt;
  return z;
}

// SymPy's x.round(6) == y.round(6) for numbers (half away from zero is
// close enough: a tie needs an exact 5e-7 remainder).
bool RoundedEqual(Complex a, Complex b) {
  auto r = [](double x) { return std::round(x * 1e6); };
  return r(a.real()) == r(b.real()) && r(a.imag()) == r(b.imag());
}

// sympy_numeric_eq, then sympy_symbolic_eq (simplify(a - b) == 0), both
// approximated numerically: exact values agree to 1e-9 relative at the
// sample points, a Float takes 6 decimals.
bool ExpressionsAgree(const MvValue& gold, const MvValue& pred) {
  if ((gold.is_number || pred.is_number) && (gold.is_float || pred.is_float)) {
    std::optional<Complex> a = ConstantValue(gold);
    std::optional<Complex> b = ConstantValue(pred);
    if (a.has_value() && b.has_value()) {
      return RoundedEqual(*a, *b) || NumbersClose(*a, *b, /*loose=*/false);
    }
  }
  MathExpr a = MathExpr::Parse(ExprText(gold));
  MathExpr b = MathExpr::Parse(ExprText(pred));
  if (!a.ok() || !b.ok()) return false;
  // An exact value against an expression computed in floats ("14/3."):
  // SymPy's Rational == Float holds only where the float is exact, i.e.
  // for dyadic values such as 5/4.
  if (a.has_decimal() != b.has_decimal()) {
    std::optional<Complex> x = ConstantValue(gold);
    std::optional<Complex> y = ConstantValue(pred);
    if (x.has_value() && y.has_value()) {
      Complex exact = a.has_decimal() ? *y : *x;
      double scaled = exact.real() * 1048576.0;
      bool dyadic = exact.imag() == 0 && std::abs(scaled - std::round(scaled)) < 1e-6;
      return dyadic && NumbersClose(*x, *y, /*loose=*/false);
    }
  }
  return ExpressionsEqual(a, b);
}

// sympy_compare_symbols: a symbol against a product of symbols compares the
// concatenated names ("east" and e*a*s*t), otherwise names (lower-cased
// already) or the printed forms.
bool SymbolsEqual(const MvValue& gold, const MvValue& pred) {
  auto name = [](const MvValue& v) -> std::string {
    if (v.kind == Kind::kSymbol) return v.text;
    if (v.kind != Kind::kExpr) return "";
    std::string letters = absl::StrReplaceAll(v.text, {{" ", ""}});
    for (char c : letters) {
      if (!absl::ascii_isalpha(c)) return "";
    }
    return letters;
  };
  std::string a = name(gold);
  std::string b = name(pred);
  return !a.empty() && a == b;
}

MvValue AsSetOperand(const MvValue& v) {
  if (IsSetOrTuple(v)) return v;
  return Make(Kind::kSet, {v});
}

bool OrderedEqual(const std::vector<MvValue>& a, const std::vector<MvValue>& b, int depth) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!Equal(a[i], b[i], depth + 1)) return false;
  }
  return true;
}

// SymPy orders set elements by value before comparing pairwise; matching
// each gold element to an unused equal one finds the same pairing.
bool UnorderedEqual(const std::vector<MvValue>& a, const std::vector<MvValue>& b, int depth) {
  if (a.size() != b.size() || a.size() > 64) return false;
  std::vector<bool> used(b.size(), false);
  for (const MvValue& x : a) {
    bool matched = false;
    for (size_t j = 0; j < b.size() && !matched; ++j) {
      if (!used[j] && Equal(x, b[j], depth + 1)) used[j] = matched = true;
    }
    if (!matched) return false;
  }
  return true;
}

bool IntervalsEqual(const MvValue& a, const MvValue& b, int depth) {
  return a.left_open == b.left_open && a.right_open == b.right_open &&
         OrderedEqual(a.items, b.items, depth);
}

// sympy_compare_sets.
bool SetsEqual(const MvValue& gold, const MvValue& pred, int depth) {
  MvValue a = AsSetOperand(gold);
  MvValue b = AsSetOperand(pred);
  if (a.kind == Kind::kInterval && b.kind == Kind::kInterval) return IntervalsEqual(a, b, depth);
  if (a.kind == b.kind && (a.kind == Kind::kReals || a.kind == Kind::kEmpty)) return true;
  if (a.kind == Kind::kUnion && b.kind == Kind::kUnion) {
    return UnorderedEqual(a.items, b.items, depth);
  }
  bool a_finite = a.kind == Kind::kSet || a.kind == Kind::kTuple;
  bool b_finite = b.kind == Kind::kSet || b.kind == Kind::kTuple;
  if (a_finite && b_finite) {
    if (a.kind == Kind::kSet) return UnorderedEqual(a.items, b.items, depth);
    if (b.kind == Kind::kSet) return OrderedEqual(a.items, b.items, depth);
    return OrderedEqual(a.items, b.items, depth);
  }
  // An open interval against a pair: (1, 2) read either way.
  if (a.kind == Kind::kInterval && b_finite && a.left_open && a.right_open) {
    return b.kind == Kind::kSet ? UnorderedEqual(a.items, b.items, depth)
                                : OrderedEqual(a.items, b.items, depth);
  }
  if (b.kind == Kind::kInterval && a_finite && b.left_open && b.right_open) {
    return a.kind == Kind::kSet ? UnorderedEqual(a.items, b.items, depth)
                                : OrderedEqual(a.items, b.items, depth);
  }
  return false;
}

MvValue Difference(const MvValue& lhs, const MvValue& rhs) {
  MvValue d;
  d.kind = Kind::kExpr;
  std::string l = ExprText(lhs);
  std::string r = ExprText(rhs);
  if (l.empty() || r.empty()) return d;
  d.text = absl::StrCat("(", l, ")-(", r, ")");
  d.expr = MathExpr::Parse(d.text);
  return d;
}

const char* Inverse(const std::string& op) {
  if (op == "<") return ">";
  if (op == ">") return "<";
  if (op == "<=") return ">=";
  if (op == ">=") return "<=";
  return op == "=" ? "=" : "!=";
}

// sympy_compare_relational: the same relation with equal lhs - rhs, the
// flipped one, or (for equations) the same solutions, which for the
// linear equations answers state means proportional lhs - rhs.
bool RelationsEqual(const MvValue& gold, const MvValue& pred, int depth) {
  if (gold.kind == Kind::kAnd && pred.kind == Kind::kAnd) {
    return OrderedEqual(gold.items, pred.items, depth);
  }
  if (gold.kind != Kind::kRelation || pred.kind != Kind::kRelation) return false;
  MvValue dg = Difference(gold.items[0], gold.items[1]);
  if (gold.op == pred.op) {
    MvValue dp = Difference(pred.items[0], pred.items[1]);
    if (dg.expr.ok() && dp.expr.ok() && ExpressionsEqual(dg.expr, dp.expr)) return true;
    if (gold.op == "=" && dg.expr.ok() && dp.expr.ok() &&
        ExpressionsProportional(dg.expr, dp.expr)) {
      return true;
    }
  }
  if (Inverse(gold.op) == pred.op) {
    MvValue flipped = Difference(pred.items[1], pred.items[0]);
    if (dg.expr.ok() && flipped.expr.ok() && ExpressionsEqual(dg.expr, flipped.expr)) {
      return true;
    }
  }
  return false;
}

bool OnlySymbols(const MvValue& v) {
  if (v.kind == Kind::kSymbol) return true;
  if (v.kind != Kind::kExpr || v.is_number || v.expr.variables().empty()) return false;
  for (char c : v.text) {
    if (absl::ascii_isdigit(c) || c == '.') return false;
  }
  return true;
}

bool IsEquation(const MvValue& v) {
  if (v.kind == Kind::kRelation) return v.op == "=";
  if (v.kind != Kind::kAnd || v.items.empty()) return false;
  for (const MvValue& r : v.items) {
    if (r.kind != Kind::kRelation || r.op != "=") return false;
  }
  return true;
}

bool IsAssignment(const MvValue& v) {
  if (!IsEquation(v)) return false;
  const MvValue& first = v.kind == Kind::kAnd ? v.items.front() : v;
  return OnlySymbols(first.items[0]);
}

const MvValue& LastRelation(const MvValue& v) {
  return v.kind == Kind::kAnd ? LastRelation(v.items.back()) : v;
}
const MvValue& FirstRelation(const MvValue& v) {
  return v.kind == Kind::kAnd ? v.items.front() : v;
}

// A relation as the set it describes, for the simple shapes answers take:
// "x < 3", "3 <= x", "-1 < x <= 2", "x = 4".
std::optional<MvValue> RelationAsSet(const MvValue& r) {
  auto bound = [](const MvValue& v) { return v.kind == Kind::kExpr && v.expr.variables().empty(); };
  auto symbol = [](const MvValue& v) { return v.kind == Kind::kSymbol; };
  auto infinity = [](bool negative) {
    MvValue v;
    v.text = negative ? "-\\infty" : "\\infty";
    v.expr = MathExpr::Parse(v.text);
    return v;
  };
  auto interval = [](MvValue lo, MvValue hi, bool lo_open, bool hi_open) {
    MvValue v = Make(Kind::kInterval, {std::move(lo), std::move(hi)});
    v.left_open = lo_open;
    v.right_open = hi_open;
    return v;
  };
  if (r.kind == Kind::kRelation) {
    const MvValue& l = r.items[0];
    const MvValue& h = r.items[1];
    std::string op = r.op;
    if (symbol(h) && bound(l)) {  // "3 < x" is "x > 3"
      MvValue flipped = Make(Kind::kRelation, {h, l});
      flipped.op = Inverse(op);
      return RelationAsSet(flipped);
    }
    if (!symbol(l) || !bound(h)) return std::nullopt;
    if (op == "=") return Make(Kind::kSet, {h});
    if (op == "<" || op == "<=") return interval(infinity(true), h, true, op == "<");
    if (op == ">" || op == ">=") return interval(h, infinity(false), op == ">", true);
    return std::nullopt;
  }
  if (r.kind == Kind::kAnd && r.items.size() == 2) {
    const MvValue& a = r.items[0];
    const MvValue& b = r.items[1];
    bool up = (a.op == "<" || a.op == "<=") && (b.op == "<" || b.op == "<=");
    if (up && bound(a.items[0]) && symbol(a.items[1]) && bound(b.items[1])) {
      return interval(a.items[0], b.items[1], a.op == "<", b.op == "<");
    }
  }
  return std::nullopt;
}

// SymPy's structural a == b (sympy_str_eq): the same tree, numbers by value.
bool Identical(const MvValue& a, const MvValue& b) {
  if (a.kind != b.kind || a.op != b.op || a.left_open != b.left_open ||
      a.right_open != b.right_open || a.items.size() != b.items.size()) {
    return false;
  }
  if (a.kind == Kind::kExpr) {
    if (a.text == b.text) return true;
    std::optional<Complex> x = ConstantValue(a);
    std::optional<Complex> y = ConstantValue(b);
    return a.is_number && b.is_number && a.is_float == b.is_float && x.has_value() &&
           y.has_value() && *x == *y;
  }
  if (a.kind == Kind::kSymbol) return a.text == b.text;
  for (size_t i = 0; i < a.items.size(); ++i) {
    if (!Identical(a.items[i], b.items[i])) return false;
  }
  return true;
}

// sympy_expr_eq.
bool Equal(const MvValue& gold_in, const MvValue& pred_in, int depth) {
  if (depth > kMaxDepth) return false;
  MvValue gold = gold_in;
  MvValue pred = pred_in;
  bool gold_assignment = IsAssignment(gold);
  bool pred_assignment = IsAssignment(pred);
  bool gold_equation = IsEquation(gold);
  bool pred_equation = IsEquation(pred);
  auto collapse = [](const MvValue& v) {
    MvValue r = Make(Kind::kRelation, {FirstRelation(v).items[0], LastRelation(v).items[1]});
    r.op = "=";
    return r;
  };
  if (gold_assignment) gold = collapse(gold);
  if (pred_assignment) pred = collapse(pred);
  if (pred_equation && !gold_equation) {
    MvValue rhs = LastRelation(pred).items[1];
    pred = std::move(rhs);
  } else if (gold_assignment && !pred_equation) {
    MvValue rhs = LastRelation(gold).items[1];
    gold = std::move(rhs);
  }
  if (IsRelation(gold) && IsSetLike(pred)) {
    if (std::optional<MvValue> as_set = RelationAsSet(gold); as_set.has_value()) {
      gold = *std::move(as_set);
    }
  }
  if (Identical(gold, pred)) return true;
  if (IsRelation(gold) && IsRelation(pred)) return RelationsEqual(gold, pred, depth);
  if (IsRelation(gold) || IsRelation(pred)) return false;
  if (IsSetOrTuple(gold) || IsSetOrTuple(pred)) return SetsEqual(gold, pred, depth);
  if (gold.kind == Kind::kSymbol || pred.kind == Kind::kSymbol) {
    if (gold.kind == Kind::kSymbol && pred.kind == Kind::kSymbol) return gold.text == pred.text;
    return SymbolsEqual(gold, pred);
  }
  if (gold.kind == Kind::kMatrix && pred.kind == Kind::kMatrix) {
    return OrderedEqual(gold.items, pred.items, depth);
  }
  if (gold.kind == Kind::kMatrix || pred.kind == Kind::kMatrix) return false;
  return ExpressionsAgree(gold, pred);
}

}  // namespace

std::optional<MvValue> ConvertLatex(absl::string_view latex) { return ConvertAll(latex, 0); }

MvValue NumberValue(const std::string& number, bool percent) {
  MvValue v;
  v.kind = Kind::kExpr;
  v.text = number;
  v.is_number = IsNumberLiteral(number, &v.is_float);
  v.expr = MathExpr::Parse(number);
  return percent ? Percent(std::move(v)) : v;
}

std::optional<MvValue> ConvertPlainExpression(absl::string_view expr) {
  std::string s = absl::StrReplaceAll(expr, {{"**", "^"}});
  if (s.find_first_of("\\{}") != std::string::npos) return std::nullopt;
  return ConvertExpression(s);
}

MvValue Percent(MvValue value) {
  if (value.kind != Kind::kExpr) return value;
  value.text = absl::StrCat("(", value.text, ")/100");
  value.expr = MathExpr::Parse(value.text);
  return value;  // is_number / is_float kept: a percent of a number is "atomic"
}

MvValue JoinAsSet(std::vector<MvValue> parts) {
  std::vector<MvValue> items;
  for (MvValue& p : parts) {
    if (p.kind == Kind::kSet) {
      for (MvValue& item : p.items) items.push_back(std::move(item));
    } else {
      items.push_back(std::move(p));
    }
  }
  return MakeSet(std::move(items));
}

bool MvEqual(const MvValue& gold, const MvValue& pred) { return Equal(gold, pred, 0); }

}  // namespace cohort::worker::eval
