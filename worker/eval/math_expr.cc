#include "worker/eval/math_expr.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <vector>

namespace cohort::worker::eval {

using Complex = std::complex<double>;

enum class Op { kNum, kVar, kAdd, kSub, kMul, kDiv, kPow, kNeg, kRoot, kFunc, kFact, kAbs };

struct ExprNode {
  Op op = Op::kNum;
  Complex value;
  std::string name;  // variable or function name
  std::vector<std::shared_ptr<const ExprNode>> kids;
};

namespace {

using NodePtr = std::shared_ptr<const ExprNode>;

enum class Tok { kNum, kIdent, kCmd, kSym, kEnd };

struct Token {
  Tok kind = Tok::kEnd;
  std::string text;
};

const std::vector<std::string>& KnownCommands() {
  static const auto* commands = new std::vector<std::string>{
      "frac", "dfrac", "tfrac", "sqrt", "pi", "infty", "cdot", "times", "div",
      "sin", "cos", "tan", "sec", "csc", "cot", "arcsin", "arccos", "arctan",
      "ln", "log", "exp", "alpha", "beta", "gamma", "delta", "theta", "phi",
      "lambda", "mu", "sigma", "omega", "rho", "tau", "epsilon", "varepsilon",
      "varphi", "vartheta", "psi", "eta", "zeta", "kappa", "nu", "xi", "chi"};
  return *commands;
}

bool IsFunction(const std::string& c) {
  static const std::set<std::string> kFunctions = {
      "sin", "cos", "tan", "sec", "csc", "cot", "arcsin", "arccos", "arctan",
      "ln", "log", "exp"};
  return kFunctions.count(c) > 0;
}

bool IsGreek(const std::string& c) {
  return c != "frac" && c != "dfrac" && c != "tfrac" && c != "sqrt" && c != "pi" &&
         c != "infty" && c != "cdot" && c != "times" && c != "div" && !IsFunction(c);
}

bool IsAsciiLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Splits text into tokens; false on a character the grammar never uses.
// Unknown commands are matched by their longest known prefix, so "\pir"
// (a space lost in normalisation) reads as \pi r.
bool Tokenize(absl::string_view s, std::vector<Token>* out) {
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '~') { ++i; continue; }
    if (IsDigit(c) || (c == '.' && i + 1 < s.size() && IsDigit(s[i + 1]))) {
      size_t j = i;
      while (j < s.size() && (IsDigit(s[j]) || s[j] == '.')) ++j;
      out->push_back({Tok::kNum, std::string(s.substr(i, j - i))});
      i = j;
      continue;
    }
    if (IsAsciiLetter(c)) { out->push_back({Tok::kIdent, std::string(1, c)}); ++i; continue; }
    if (c == '\\') {
      size_t j = i + 1;
      while (j < s.size() && IsAsciiLetter(s[j])) ++j;
      std::string word(s.substr(i + 1, j - i - 1));
      if (word.empty()) {  // "\," "\;" "\!" spacing, "\{" braces
        if (j < s.size() && (s[j] == ',' || s[j] == ';' || s[j] == '!' || s[j] == ':' || s[j] == ' ')) {
          i = j + 1;
          continue;
        }
        return false;
      }
      if (word == "left" || word == "right" || word == "displaystyle") { i = j; continue; }
      std::string best;
      for (const std::string& k : KnownCommands()) {
        if (word.compare(0, k.size(), k) == 0 && k.size() > best.size()) best = k;
      }
      if (best.empty()) return false;
      out->push_back({Tok::kCmd, best});
      i += 1 + best.size();
      continue;
    }
    if (std::string("+-*/^()[]{}|!").find(c) != std::string::npos) {
      out->push_back({Tok::kSym, std::string(1, c)});
      ++i;
      continue;
    }
    return false;
  }
  return true;
}

NodePtr Leaf(Complex v) {
  auto n = std::make_shared<ExprNode>();
  n->value = v;
  return n;
}

NodePtr Node(Op op, std::vector<NodePtr> kids, std::string name = "") {
  auto n = std::make_shared<ExprNode>();
  n->op = op;
  n->kids = std::move(kids);
  n->name = std::move(name);
  return n;
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  NodePtr ParseAll() {
    NodePtr e = Expr();
    return e != nullptr && Peek().kind == Tok::kEnd ? e : nullptr;
  }
  std::set<std::string> variables;
  bool has_decimal = false;

 private:
  const Token& Peek() const {
    static const Token kEnd;
    return pos_ < tokens_.size() ? tokens_[pos_] : kEnd;
  }
  bool IsSym(const char* s) const { return Peek().kind == Tok::kSym && Peek().text == s; }
  bool IsCmd(const char* s) const { return Peek().kind == Tok::kCmd && Peek().text == s; }
  bool Accept(const char* s) {
    if (!IsSym(s)) return false;
    ++pos_;
    return true;
  }

  bool AcceptCmdOrSym(const char* sym, const char* cmd1, const char* cmd2) {
    if (Accept(sym)) return true;
    if (!IsCmd(cmd1) && !IsCmd(cmd2)) return false;
    ++pos_;
    return true;
  }

  // Depth guard: every recursive entry goes through here.
  struct DepthGuard {
    explicit DepthGuard(int* d) : depth(d) { ++*depth; }
    ~DepthGuard() { --*depth; }
    int* depth;
  };

  NodePtr Expr() {
    DepthGuard g(&depth_);
    if (depth_ > 100) return nullptr;
    NodePtr left = Term();
    while (left != nullptr && (IsSym("+") || IsSym("-"))) {
      Op op = Peek().text == "+" ? Op::kAdd : Op::kSub;
      ++pos_;
      NodePtr right = Term();
      if (right == nullptr) return nullptr;
      left = Node(op, {left, right});
    }
    return left;
  }

  bool StartsFactor() const {
    const Token& t = Peek();
    if (t.kind == Tok::kNum || t.kind == Tok::kIdent) return true;
    if (t.kind == Tok::kSym) return t.text == "(" || t.text == "{" || t.text == "[";
    return t.kind == Tok::kCmd && t.text != "cdot" && t.text != "times" && t.text != "div";
  }

  NodePtr Term() {
    NodePtr left = Unary();
    while (left != nullptr) {
      if (AcceptCmdOrSym("*", "cdot", "times")) {
        NodePtr right = Unary();
        if (right == nullptr) return nullptr;
        left = Node(Op::kMul, {left, right});
      } else if (AcceptCmdOrSym("/", "div", "div")) {
        NodePtr right = Unary();
        if (right == nullptr) return nullptr;
        left = Node(Op::kDiv, {left, right});
      } else if (StartsFactor()) {
        NodePtr right = Power();
        if (right == nullptr) return nullptr;
        left = Node(Op::kMul, {left, right});
      } else {
        break;
      }
    }
    return left;
  }

  NodePtr Unary() {
    DepthGuard g(&depth_);
    if (depth_ > 100) return nullptr;
    if (Accept("-")) {
      NodePtr inner = Unary();
      return inner == nullptr ? nullptr : Node(Op::kNeg, {inner});
    }
    if (Accept("+")) return Unary();
    return Power();
  }

  NodePtr Power() {
    NodePtr base = Postfix();
    if (base == nullptr || !Accept("^")) return base;
    NodePtr exponent = Exponent();
    return exponent == nullptr ? nullptr : Node(Op::kPow, {base, exponent});
  }

  // After '^': a braced group, a signed single factor, or one digit of a
  // number (x^23 is x^2 * 3 in LaTeX).
  NodePtr Exponent() {
    if (Accept("-")) {
      NodePtr e = Exponent();
      return e == nullptr ? nullptr : Node(Op::kNeg, {e});
    }
    return Argument();
  }

  // A macro argument: {expr}, or a single token (one digit of a number).
  NodePtr Argument() {
    DepthGuard g(&depth_);
    if (depth_ > 100) return nullptr;
    if (Accept("{")) {
      NodePtr e = Expr();
      return e != nullptr && Accept("}") ? e : nullptr;
    }
    if (Peek().kind == Tok::kNum && Peek().text.size() > 1 && IsDigit(Peek().text[0])) {
      Complex digit(Peek().text[0] - '0', 0);
      tokens_[pos_].text.erase(0, 1);
      return Leaf(digit);
    }
    return Postfix();
  }

  NodePtr Postfix() {
    NodePtr p = Primary();
    while (p != nullptr && Accept("!")) p = Node(Op::kFact, {p});
    return p;
  }

  NodePtr Bracketed(const char* close) {
    NodePtr e = Expr();
    return e != nullptr && Accept(close) ? e : nullptr;
  }

  NodePtr Primary() {
    DepthGuard g(&depth_);
    if (depth_ > 100) return nullptr;
    Token t = Peek();
    if (t.kind == Tok::kEnd) return nullptr;
    ++pos_;
    switch (t.kind) {
      case Tok::kNum: return Number(t.text);
      case Tok::kIdent:
        if (t.text == "i") return Leaf(Complex(0, 1));
        variables.insert(t.text);
        return Node(Op::kVar, {}, t.text);
      case Tok::kSym:
        if (t.text == "(") return Bracketed(")");
        if (t.text == "[") return Bracketed("]");
        if (t.text == "{") return Bracketed("}");
        if (t.text == "|") {
          NodePtr e = Bracketed("|");
          return e == nullptr ? nullptr : Node(Op::kAbs, {e});
        }
        return nullptr;
      case Tok::kCmd: return Command(t.text);
      default: return nullptr;
    }
  }

  NodePtr Number(const std::string& text) {
    if (std::count(text.begin(), text.end(), '.') > 1) return nullptr;
    if (text.find('.') != std::string::npos) has_decimal = true;
    return Leaf(Complex(std::strtod(text.c_str(), nullptr), 0));
  }

  NodePtr Command(const std::string& c) {
    if (c == "frac" || c == "dfrac" || c == "tfrac") {
      NodePtr num = Argument();
      NodePtr den = num == nullptr ? nullptr : Argument();
      return den == nullptr ? nullptr : Node(Op::kDiv, {num, den});
    }
    if (c == "sqrt") {
      NodePtr index = Leaf(Complex(2, 0));
      if (Accept("[")) index = Bracketed("]");
      NodePtr radicand = index == nullptr ? nullptr : Argument();
      return radicand == nullptr ? nullptr : Node(Op::kRoot, {radicand, index});
    }
    if (c == "pi") return Leaf(Complex(M_PI, 0));
    if (c == "infty") return Leaf(Complex(HUGE_VAL, 0));
    if (IsFunction(c)) return Function(c);
    if (IsGreek(c)) {
      variables.insert("\\" + c);
      return Node(Op::kVar, {}, "\\" + c);
    }
    return nullptr;
  }

  // \sin^2 x, \sin(x), \sin{x}, \sin x.
  NodePtr Function(const std::string& name) {
    NodePtr power;
    if (Accept("^")) {
      power = Exponent();
      if (power == nullptr) return nullptr;
    }
    NodePtr arg = IsSym("(") || IsSym("{") ? Primary() : Power();
    if (arg == nullptr) return nullptr;
    NodePtr f = Node(Op::kFunc, {arg}, name);
    return power == nullptr ? f : Node(Op::kPow, {f, power});
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int depth_ = 0;
};

Complex ApplyFunction(const std::string& f, Complex x) {
  if (f == "sin") return std::sin(x);
  if (f == "cos") return std::cos(x);
  if (f == "tan") return std::tan(x);
  if (f == "sec") return 1.0 / std::cos(x);
  if (f == "csc") return 1.0 / std::sin(x);
  if (f == "cot") return 1.0 / std::tan(x);
  if (f == "arcsin") return std::asin(x);
  if (f == "arccos") return std::acos(x);
  if (f == "arctan") return std::atan(x);
  if (f == "ln") return std::log(x);
  if (f == "log") return std::log10(x);
  return std::exp(x);
}

// Real powers stay real where they can (odd roots of negatives included),
// so (-8)^(1/3) = -2 as a reader expects, not the complex principal root.
Complex Power(Complex base, Complex exponent) {
  if (base.imag() == 0 && exponent.imag() == 0) {
    double b = base.real();
    double e = exponent.real();
    if (b >= 0 || e == std::round(e)) return Complex(std::pow(b, e), 0);
    double inverse = 1.0 / e;
    if (std::abs(inverse - std::round(inverse)) < 1e-12 &&
        static_cast<long long>(std::round(inverse)) % 2 != 0) {
      return Complex(-std::pow(-b, e), 0);
    }
  }
  // -9 parses as -(9+0i) = (-9, -0i); a signed zero would put the branch cut
  // on the wrong side and make sqrt(-9) = -3i.
  if (base.imag() == 0) base = Complex(base.real(), 0.0);
  return std::pow(base, exponent);
}

Complex Eval(const ExprNode& n, const std::map<std::string, Complex>& vars) {
  auto kid = [&](size_t i) { return Eval(*n.kids[i], vars); };
  switch (n.op) {
    case Op::kNum: return n.value;
    case Op::kVar: {
      auto it = vars.find(n.name);
      return it == vars.end() ? Complex(NAN, 0) : it->second;
    }
    case Op::kAdd: return kid(0) + kid(1);
    case Op::kSub: return kid(0) - kid(1);
    case Op::kMul: return kid(0) * kid(1);
    case Op::kDiv: return kid(0) / kid(1);
    case Op::kNeg: return -kid(0);
    case Op::kPow: return Power(kid(0), kid(1));
    case Op::kRoot: return Power(kid(0), 1.0 / kid(1));
    case Op::kFunc: return ApplyFunction(n.name, kid(0));
    case Op::kAbs: return Complex(std::abs(kid(0)), 0);
    case Op::kFact: {
      Complex x = kid(0);
      if (x.imag() != 0 || x.real() < 0 || x.real() > 170 || x.real() != std::round(x.real())) {
        return Complex(NAN, 0);
      }
      return Complex(std::tgamma(x.real() + 1), 0);
    }
  }
  return Complex(NAN, 0);
}

// Three fixed assignments; values avoid small integers and common poles.
std::vector<std::map<std::string, Complex>> SamplePoints(const MathExpr& a,
                                                         const MathExpr& b) {
  static constexpr double kValues[] = {0.5377, 1.8339, -2.2588, 0.8622, 0.3188,
                                       -1.3077, -0.4336, 0.3426, 3.5784, 2.7694};
  std::set<std::string> names = a.variables();
  names.insert(b.variables().begin(), b.variables().end());
  std::vector<std::map<std::string, Complex>> points(3);
  for (size_t p = 0; p < points.size(); ++p) {
    size_t k = p * 3;
    for (const std::string& name : names) {
      points[p][name] = Complex(kValues[k++ % 10], 0);
    }
  }
  return points;
}

bool Finite(Complex z) { return std::isfinite(z.real()) && std::isfinite(z.imag()); }

}  // namespace

MathExpr MathExpr::Parse(absl::string_view text) {
  MathExpr expr;
  std::vector<Token> tokens;
  if (text.size() > kMaxExpressionBytes || !Tokenize(text, &tokens) || tokens.empty()) {
    return expr;
  }
  Parser parser(std::move(tokens));
  expr.root_ = parser.ParseAll();
  if (expr.root_ != nullptr) {
    expr.variables_ = std::move(parser.variables);
    expr.has_decimal_ = parser.has_decimal;
  }
  return expr;
}

Complex MathExpr::Evaluate(const std::map<std::string, Complex>& vars) const {
  return root_ == nullptr ? Complex(NAN, 0) : Eval(*root_, vars);
}

bool NumbersClose(Complex a, Complex b, bool loose) {
  if (std::isinf(a.real()) || std::isinf(b.real())) {
    return a.real() == b.real() && a.imag() == b.imag();
  }
  if (!Finite(a) || !Finite(b)) return false;
  double scale = std::max({1.0, std::abs(a), std::abs(b)});
  return std::abs(a - b) <= (loose ? 1e-6 : 1e-9) * scale;
}

bool ExpressionsEqual(const MathExpr& a, const MathExpr& b) {
  if (!a.ok() || !b.ok()) return false;
  bool loose = a.has_decimal() || b.has_decimal();
  int compared = 0;
  for (const auto& point : SamplePoints(a, b)) {
    Complex x = a.Evaluate(point);
    Complex y = b.Evaluate(point);
    if (std::isnan(x.real()) && std::isnan(y.real())) continue;  // both undefined
    if (!NumbersClose(x, y, loose)) return false;
    ++compared;
  }
  return compared > 0;
}

bool ExpressionsProportional(const MathExpr& a, const MathExpr& b) {
  if (!a.ok() || !b.ok()) return false;
  Complex ratio;
  bool have_ratio = false;
  for (const auto& point : SamplePoints(a, b)) {
    Complex x = a.Evaluate(point);
    Complex y = b.Evaluate(point);
    if (!Finite(x) || !Finite(y) || std::abs(y) < 1e-12) return false;
    Complex r = x / y;
    if (std::abs(r) < 1e-12) return false;
    if (have_ratio && !NumbersClose(r, ratio, true)) return false;
    ratio = r;
    have_ratio = true;
  }
  return have_ratio;
}

namespace {

bool IsOpen(char c) { return c == '(' || c == '[' || c == '{'; }
bool IsClose(char c) { return c == ')' || c == ']' || c == '}'; }

}  // namespace

std::vector<std::string> SplitTopLevel(absl::string_view s, absl::string_view sep,
                                       bool set_braces_nest) {
  std::vector<std::string> parts;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && s.substr(i, sep.size()) != sep) {
      // "\{" is a set brace (nesting only when asked), "\\" a row break.
      if (set_braces_nest && i + 1 < s.size() && (s[i + 1] == '{' || s[i + 1] == '}')) {
        depth += s[i + 1] == '{' ? 1 : -1;
      }
      ++i;
      continue;
    }
    if (IsOpen(s[i])) ++depth;
    if (IsClose(s[i])) --depth;
    if (depth == 0 && s.substr(i, sep.size()) == sep) {
      parts.emplace_back(s.substr(start, i - start));
      start = i + sep.size();
      i = start - 1;
    }
  }
  parts.emplace_back(s.substr(start));
  return parts;
}

bool Bracketed(const std::string& s, char* open, char* close, std::string* inner) {
  if (s.size() < 2 || (s[0] != '(' && s[0] != '[') ||
      (s.back() != ')' && s.back() != ']')) {
    return false;
  }
  int depth = 0;
  for (size_t i = 0; i + 1 < s.size(); ++i) {
    if (s[i] == '\\') { ++i; continue; }
    if (IsOpen(s[i])) ++depth;
    if (IsClose(s[i])) --depth;
    if (depth == 0) return false;  // closed before the end: "(a)+(b)"
  }
  *open = s[0];
  *close = s.back();
  *inner = s.substr(1, s.size() - 2);
  return true;
}

}  // namespace cohort::worker::eval
