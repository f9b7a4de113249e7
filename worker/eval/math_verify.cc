// Math-Verify's parse() and verify() (see math_verify.h): the extraction
// regexes with their priorities, the order matches are tried in, and the
// any-against-any comparison. Normalisation is in math_verify_normalize.cc,
// values and their comparison in math_verify_value.cc.
#include "worker/eval/math_verify.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "worker/eval/math_verify_value.h"
#include "worker/eval/py_regex.h"
#include "worker/eval/text_util.h"

namespace cohort::worker::eval {
namespace {

// ------------------------------------------------------------- the regexes

// One LaTeX environment slot ("first" or "nextN") of a pattern: where its
// groups start, how many environment groups it has, then one percent group.
struct LatexSlot {
  int first_group;
  int env_groups;
};

constexpr int kPlainEnvGroups = 6;  // $$ \[ $ \( [ and a bare \frac
constexpr int kBoxedEnvGroups = 5;  // the same without the bare \frac

// make_latex_env_pattern: math environments (with a \boxed inside, for the
// boxed context) and an optional percent suffix.
std::string LatexEnvPattern(bool boxed) {
  std::string display_dollar = R"((?:[^$]|\$(?!\$)))";
  std::string display_bracket = R"((?:[^\\]|\\(?!\])))";
  std::string inline_dollar = R"((?:\\[$]|[^\n$]))";
  std::string inline_paren = R"((?:[^\\\n]|\\(?!\))))";
  std::string inline_bracket = R"([^\n\]\[])";
  auto content = [&](const std::string& c) {
    return boxed ? absl::StrCat(c, "*?\\\\boxed\\{", c, "+?\\}", c, "*?") : absl::StrCat(c, "+?");
  };
  std::vector<std::string> patterns = {
      absl::StrCat(R"((?<!\\)\$\$()", content(display_dollar), R"()(?<!\\)\$\$)"),
      absl::StrCat(R"((?<!\\)\\\[()", content(display_bracket), R"()(?<!\\)\\\])"),
      absl::StrCat(R"((?<!\\|\d)\$()", content(inline_dollar), R"()(?<!\\)\$)"),
      absl::StrCat(R"((?<!\\)\\\(()", content(inline_paren), R"()(?<!\\)\\\))"),
      absl::StrCat(R"(\s\[()", content(inline_bracket), R"()\]\s)"),
  };
  if (!boxed) {
    const char* number = R"(-?\d+(?:[.,]\d+)?)";
    patterns.push_back(absl::StrCat(R"((-?\\frac\{)", number, R"(\}\{)", number, R"(\}))"));
  }
  return absl::StrCat("(?:(?:", absl::StrJoin(patterns, "|"),
                      R"()\s*((?:\\?%|[Pp]ercent|[Pp]ercentage|[Pp]ct))?))");
}

// Up to five more environments joined by "and", "or" or ",".
std::string JoinedLatexEnvs(bool boxed, std::vector<LatexSlot>* slots, int* groups) {
  int env_groups = boxed ? kBoxedEnvGroups : kPlainEnvGroups;
  std::string out = LatexEnvPattern(boxed);
  slots->push_back({*groups, env_groups});
  *groups += env_groups + 1;
  for (int i = 1; i <= 5; ++i) {
    absl::StrAppend(&out, boxed ? R"(\s*)" : "", R"((?:\s*(?:,?and|,?or|,)\s*)",
                    LatexEnvPattern(boxed), ")?");
    slots->push_back({*groups, env_groups});
    *groups += env_groups + 1;
  }
  return out;
}

enum class Target { kLatex, kExpr };

// Group indices (0-based into PyMatch::groups) of the expression pattern's
// named groups; -1 where the pattern lacks one.
struct ExprGroups {
  int expr = -1;
  std::vector<int> integers;
  std::vector<int> decimals;
  int percent = -1;
};

struct Pattern {
  int priority;
  Target target;
  std::unique_ptr<PyRegex> re;
  std::vector<LatexSlot> slots;  // kLatex
  bool boxed_group = false;      // kLatex: the bare "\boxed{.+}" pattern
  ExprGroups expr;               // kExpr
};

std::unique_ptr<Pattern> LatexPattern(int priority, const std::string& prefix,
                                      const std::string& suffix, bool boxed) {
  auto p = std::make_unique<Pattern>();
  p->priority = priority;
  p->target = Target::kLatex;
  int groups = 0;
  std::string envs = JoinedLatexEnvs(boxed, &p->slots, &groups);
  p->re = std::make_unique<PyRegex>(absl::StrCat(prefix, envs, suffix), PyRegex::kDotAll);
  return p;
}

// The number and expression patterns (lazy_expr_regex); `with_expr` and
// `with_number` pick the alternatives, and the group layout follows.
std::string ExprOrNumber(bool with_expr, bool with_number, ExprGroups* g) {
  const std::string ops = R"(\+\-\*×\/\^\(\)÷)";
  const std::string all = absl::StrCat(R"([\d\.\s)", ops, "]");
  const std::string prefix = R"((?:^|\s|=)(?:\*\*)?)";
  const std::string suffix = R"((?:\*\*)?(?:\.|,|:|\s|\)|\$|$))";
  const std::string currency = R"([\$€£¥₹₽₪₩₫฿₡₢₣₤₥₦₧₨₩₪₫₭₮₯₰₱₲₳₴₵₶₷₸₹₺₻₼₽₾₿])";
  const std::string expr = absl::StrCat(R"((-?\(?-?\d)", all, "*[", ops, "]", all, R"(+\)?))");
  const std::string number =
      R"((?<!\d)(?:(-?[1-9]\d{0,2}(?:[ ,]\d{3})+)(\.\d+)?|(-?\d+)([.,]\d+)|(\.\d+)|(-?\d+)))"
      R"((\s*(?:%|[Pp]ercent|\s*[Pp]ercentage|\s*[Pp]ct))?)";
  std::vector<std::string> alternatives;
  int next = 0;
  if (with_expr) {
    alternatives.push_back(absl::StrCat("(?:", prefix, expr, suffix, ")"));
    g->expr = next++;
  }
  if (with_number) {
    alternatives.push_back(absl::StrCat("(?:", prefix, currency, "?", number, ")"));
    g->integers = {next, next + 2, next + 5};
    g->decimals = {next + 1, next + 3, next + 4};
    g->percent = next + 6;
  }
  return alternatives.size() == 1 ? alternatives[0]
                                  : absl::StrCat("(?:", absl::StrJoin(alternatives, "|"), ")");
}

std::unique_ptr<Pattern> ExprPattern(int priority, const std::string& prefix,
                                     const std::string& suffix, bool with_expr, bool with_number) {
  auto p = std::make_unique<Pattern>();
  p->priority = priority;
  p->target = Target::kExpr;
  std::string body = ExprOrNumber(with_expr, with_number, &p->expr);
  p->re = std::make_unique<PyRegex>(absl::StrCat(prefix, body, suffix));
  return p;
}

// Every pattern, in the order the reference lists them (LaTeX config, then
// expression config); a stable sort by priority keeps that order within one.
std::vector<std::unique_ptr<Pattern>> BuildPatterns() {
  std::vector<std::unique_ptr<Pattern>> p;
  p.push_back(LatexPattern(0, "(?i:final answer is):?\\s*", "\\.?\\s?I hope", false));
  p.push_back(LatexPattern(50, "(?i:final answer.{0,100}?)\\s+is:?\\s*", "", false));
  p.push_back(LatexPattern(100, "(?i:answer):.{0,50}?", "", false));
  p.push_back(LatexPattern(200, "(?i:answer).{0,50}?", "", false));
  p.push_back(LatexPattern(300, "", "", false));
  p.push_back(LatexPattern(50, "", "", true));
  auto boxed = std::make_unique<Pattern>();
  boxed->priority = 50;
  boxed->target = Target::kLatex;
  boxed->boxed_group = true;
  boxed->slots = {{0, 1}};
  boxed->re = std::make_unique<PyRegex>(R"((\\boxed\{.+\}))", PyRegex::kDotAll);
  p.push_back(std::move(boxed));
  p.push_back(ExprPattern(0, "(?i:final answer is):?\\s*", "\\.?\\s?I hope", true, true));
  p.push_back(ExprPattern(50, "(?i:final answer.{0,100}?)\\s+is:?", "", true, true));
  p.push_back(ExprPattern(100, "(?i:answer):(?:.{0,100}=\\s*|.{0,50}?)", "(?!\\s*=)", true, true));
  p.push_back(ExprPattern(200, "(?i:answer)(?:.{0,100}=\\s*|.{0,50}?)", "(?!\\s*=)", true, true));
  p.push_back(ExprPattern(300, "", "", true, false));
  p.push_back(ExprPattern(300, "", "", false, true));
  std::stable_sort(p.begin(), p.end(),
                   [](const auto& a, const auto& b) { return a->priority < b->priority; });
  return p;
}

const std::vector<std::unique_ptr<Pattern>>& Patterns() {
  static const auto* const kPatterns =
      new std::vector<std::unique_ptr<Pattern>>(BuildPatterns());
  return *kPatterns;
}

// ------------------------------------------------------------- extraction

struct Extracted {
  std::optional<MvValue> value;
  std::string text;  // the fallback string ("" when none)
};

std::string Group(const PyMatch& m, int index) {
  if (index < 0 || index >= static_cast<int>(m.groups.size())) return "";
  return m.groups[index].value_or("");
}

// parse_latex_cached: the whole text, else (no "," or ";" in it, and two
// or more "=") the part after its last "=" ("\le"-style "<=", "!=", ">="
// and "\=" do not count).
std::optional<MvValue> ConvertWithLastEquation(const std::string& latex) {
  if (std::optional<MvValue> v = ConvertLatex(latex); v.has_value()) return v;
  if (latex.find_first_of(",;") != std::string::npos) return std::nullopt;
  std::vector<size_t> equals;
  for (size_t i = 0; i < latex.size(); ++i) {
    bool after_excluded = i > 0 && std::string_view("\\<!>").find(latex[i - 1]) != std::string_view::npos;
    if (latex[i] == '=' && !after_excluded) equals.push_back(i);
  }
  if (equals.size() < 2) return std::nullopt;
  return ConvertLatex(latex.substr(equals.back() + 1));
}

Extracted ExtractLatex(const Pattern& p, const PyMatch& m) {
  std::vector<std::optional<MvValue>> values;
  std::vector<std::string> texts;
  for (const LatexSlot& slot : p.slots) {
    std::string latex;
    for (int g = slot.first_group; g < slot.first_group + slot.env_groups; ++g) {
      latex = Group(m, g);
      if (!latex.empty()) break;
    }
    if (latex.empty()) continue;
    bool percent = !p.boxed_group && !Group(m, slot.first_group + slot.env_groups).empty();
    std::string normalized = NormalizeLatexForVerify(latex, /*boxed_last=*/p.boxed_group);
    texts.push_back(normalized);
    std::optional<MvValue> v = ConvertWithLastEquation(normalized);
    if (v.has_value() && percent) v = Percent(*std::move(v));
    values.push_back(std::move(v));
  }
  if (values.empty()) return {};
  bool all_parsed = std::all_of(values.begin(), values.end(),
                                [](const std::optional<MvValue>& v) { return v.has_value(); });
  if (values.size() > 1 && all_parsed) {
    std::vector<MvValue> parts;
    for (auto& v : values) parts.push_back(*std::move(v));
    return {JoinAsSet(std::move(parts)), absl::StrJoin(texts, " and ")};
  }
  return {std::move(values[0]), texts[0]};
}

Extracted ExtractExpr(const Pattern& p, const PyMatch& m) {
  std::string integer;
  std::string decimal;
  for (int g : p.expr.integers) {
    if (integer.empty()) integer = Group(m, g);
  }
  for (int g : p.expr.decimals) {
    if (decimal.empty()) decimal = Group(m, g);
  }
  if (!integer.empty() || !decimal.empty()) {
    integer = absl::StrReplaceAll(integer, {{",", ""}, {" ", ""}});
    integer.erase(0, integer.find_first_not_of('0'));
    if (integer.empty()) integer = "0";
    decimal = absl::StrReplaceAll(decimal, {{",", "."}});
    std::string number = integer + decimal;
    return {NumberValue(number, !Group(m, p.expr.percent).empty()), number};
  }
  std::string expr = Group(m, p.expr.expr);
  if (expr.empty()) return {};
  return {ConvertPlainExpression(absl::StrReplaceAll(expr, {{"\n", " "}})), expr};
}

struct Candidate {
  const Pattern* pattern;
  PyMatch match;
};

}  // namespace

std::vector<MathAnswer> MathVerifyParse(absl::string_view text) {
  if (text.size() > kMaxParseBytes) {
    size_t cut = text.size() - kMaxParseBytes;
    while (cut < text.size() && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) ++cut;
    text.remove_prefix(cut);
  }
  std::vector<MathAnswer> answers;
  std::vector<std::string> fallbacks;
  const auto& patterns = Patterns();
  for (size_t i = 0; i < patterns.size() && answers.empty();) {
    int priority = patterns[i]->priority;
    std::vector<Candidate> candidates;
    for (; i < patterns.size() && patterns[i]->priority == priority; ++i) {
      for (PyMatch& m : patterns[i]->re->FindAll(text)) {
        candidates.push_back({patterns[i].get(), std::move(m)});
      }
    }
    // Rightmost end first; for one end, the leftmost start (the longer match).
    std::stable_sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
      if (a.match.end != b.match.end) return a.match.end > b.match.end;
      return a.match.start < b.match.start;
    });
    for (const Candidate& c : candidates) {
      Extracted e = c.pattern->target == Target::kLatex ? ExtractLatex(*c.pattern, c.match)
                                                        : ExtractExpr(*c.pattern, c.match);
      if (!e.text.empty()) fallbacks.push_back(e.text);
      if (e.value.has_value()) {
        answers.push_back({std::make_shared<const MvValue>(*std::move(e.value)), e.text});
        break;
      }
    }
  }
  if (!fallbacks.empty()) answers.push_back({nullptr, fallbacks.front()});
  return answers;
}

bool MathVerifyVerify(const std::vector<MathAnswer>& gold, const std::vector<MathAnswer>& target) {
  for (const MathAnswer& g : gold) {
    for (const MathAnswer& t : target) {
      if (g.value != nullptr && t.value != nullptr) {
        if (MvEqual(*g.value, *t.value)) return true;
      } else if (g.value == nullptr && t.value == nullptr) {
        std::string a = Strip(g.text);
        std::string b = Strip(t.text);
        if (!a.empty() && a == b) return true;
      }
    }
  }
  return false;
}

std::string DescribeAnswers(const std::vector<MathAnswer>& answers) {
  std::vector<std::string> parts;
  for (const MathAnswer& a : answers) parts.push_back(a.text);
  return absl::StrJoin(parts, "; ");
}

}  // namespace cohort::worker::eval
