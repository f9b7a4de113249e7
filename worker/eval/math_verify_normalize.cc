// Math-Verify's LaTeX normalisation (latex2sympy2_extended 1.10.2
// normalize_latex, the configuration Math-Verify's LatexExtractionConfig
// uses): boxed extraction, basic LaTeX clean-up, units, nits and malformed
// operators, in that order. The regexes run on PyRegex so their classes
// mean what they mean in Python.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "worker/eval/math_verify.h"
#include "worker/eval/py_regex.h"
#include "worker/eval/text_util.h"

namespace cohort::worker::eval {
namespace {

// Index of the brace closing the one at `open`, or npos (no escapes: the
// reference counts every brace).
size_t ClosingBrace(absl::string_view text, size_t open, size_t limit) {
  int depth = 1;
  for (size_t i = open + 1; i < limit; ++i) {
    if (text[i] == '{') ++depth;
    if (text[i] == '}' && --depth == 0) return i;
  }
  return absl::string_view::npos;
}

// str.isspace() on the byte at hand where it is a whole (ASCII) character.
bool IsPySpace(char c) {
  return static_cast<unsigned char>(c) < 0x80 && IsPythonSpace(static_cast<unsigned char>(c));
}

// A later box is kept with the one after it when little or a separator
// lies between them ("\boxed{1} and \boxed{2}").
bool KeepWithNext(absl::string_view text, absl::string_view content,
                  absl::string_view next_content, size_t content_end, size_t next_start) {
  absl::string_view between =
      next_start > content_end + 1 ? text.substr(content_end + 1, next_start - content_end - 1)
                                   : absl::string_view();
  size_t chars = CodePointCount(between);
  if (chars < 10) return true;
  if (content != next_content && chars < 70) {
    static const PyRegex kSeparator("and|or|,|;");
    return kSeparator.Search(between).has_value();
  }
  return false;
}

// extract_boxed_content: boxes found right to left; "all" joins every box's
// content with ",", "last" stops at the first box too far from the next.
std::string ExtractBoxedContent(absl::string_view text, bool last_only) {
  std::vector<std::string> results;
  size_t current = text.size();
  size_t max_pos = text.size();
  size_t last_start = absl::string_view::npos;
  while (true) {
    absl::string_view head = text.substr(0, current);
    size_t boxed = head.rfind("\\boxed");
    size_t fbox = head.rfind("\\fbox");
    if (boxed == absl::string_view::npos && fbox == absl::string_view::npos) break;
    bool is_boxed = fbox == absl::string_view::npos ||
                    (boxed != absl::string_view::npos && boxed > fbox);
    size_t start = is_boxed ? boxed : fbox;
    size_t next = start + (is_boxed ? 6 : 5);
    while (next < max_pos && IsPySpace(text[next])) ++next;
    if (next >= max_pos) break;
    if (text[next] != '{') {
      if (results.empty()) results.emplace_back(text.substr(next));
      break;
    }
    size_t close = ClosingBrace(text, next, max_pos);
    if (close == absl::string_view::npos) {
      if (results.empty()) results.emplace_back(text.substr(next));
      break;
    }
    std::string content = Strip(text.substr(next + 1, close - next - 1));
    if (last_only && last_start != absl::string_view::npos &&
        !KeepWithNext(text, content, results.empty() ? "" : results.back(), close, last_start)) {
      break;
    }
    results.push_back(std::move(content));
    last_start = start;
    max_pos = start;
    current = start;
  }
  if (results.empty()) return std::string(text);
  std::reverse(results.begin(), results.end());
  return absl::StrJoin(results, ",");
}

std::string BasicLatex(std::string text) {
  text = absl::StrReplaceAll(text, {{"\\mathrm{T}", "T"}, {"\\mathrm{d}", "d"}, {"{\\rm d}", "d"}});
  text = absl::StrReplaceAll(text, {{"\\left[\\begin{matrix}", "\\begin{bmatrix}"},
                                    {"\\end{matrix}\\right]", "\\end{bmatrix}"}});
  static const PyRegex kLeft(
      R"(\\m?left(\\\{|\{|\\\||\||\[|\(|\\rbracl|\\lgroup|\\lbrace|\\lbrack|\\vert|\\lvert|)"
      R"(\\lceil|\\lfloor|\\vert|\\lvert|\\langle|\\llcorner|\\ulcorner))");
  static const PyRegex kRight(
      R"(\\m?right(\\\}|\}|\\\||\||\]|\)|\\rbrack|\\rgroup|\\rbrace|\\rbrack|\\vert|\\rvert|)"
      R"(\\rceil|\\rfloor|\\vert|\\rvert|\\rangle|\\lrcorner|\\urcorner))");
  auto group1 = [](const PyMatch& m) { return m.groups[0].value_or(""); };
  text = kLeft.SubWith(text, group1);
  text = kRight.SubWith(text, group1);
  // (n)_{k}: a falling factorial written as a permutation count.
  static const PyRegex kPermutation(
      R"(\(([a-zA-Z0-9+\-*/\\ ]+?)\)_\{([a-zA-Z0-9+\-*/\\ ]+?)\})");
  text = kPermutation.SubWith(text, [](const PyMatch& m) {
    std::string n = m.groups[0].value_or("");
    std::string k = m.groups[1].value_or("");
    return absl::StrCat("\\frac{(", n, ")!}{((", n, ")-(", k, "))!}");
  });
  static const PyRegex kRemove(
      R"(\\mathrm\{th\}|\\!\s*|\\text\s*\{\s*\}|\\\$|\$|(?<!\\)["']|\\displaystyle)");
  text = kRemove.Sub(text, "");
  // One alternation, first alternative winning at each position, as the
  // reference's named groups; the replacement is the matched group's.
  static const PyRegex kReplace(
      R"((\\math(?:rm|it|bf))|(\\text(?:normal|bf|it|rm))|(\\(?:d|t|c)frac)|(\s\.)|(\{\.)|)"
      R"((\~\=)|(\s*\{\s*,\s*\})|((?<![a-zA-Z]),?\s*(?:and|or)(?![a-zA-Z]))|)"
      R"(,?\s*\\text\{\s*(?:and|or)\s*\}|((?<!\\)\\\s)|(infinity)|(,?\\ldots)|)"
      R"((\s*percentage)|(\\text\{percentage\})|(\s*percent)|(\\text\{percent\})|)"
      R"((\s*pct)|(\\text\{pct\})|((?<!\\)inf(?!inity))|( sqrt))");
  static const char* const kWith[] = {
      "\\text", "\\text", "\\frac", " 0.", "{0.", "\\approx", ",", ",", " ", "\\infty", " ",
      "\\%",    "\\%",    "\\%",    "\\%", "\\%", "\\%",      "\\infty", "\\sqrt"};
  text = kReplace.SubWith(text, [](const PyMatch& m) -> std::string {
    for (size_t g = 0; g < m.groups.size() && g < std::size(kWith); ++g) {
      if (m.groups[g].has_value()) return kWith[g];
    }
    return ",";  // the "\text{and}" alternative, the one without a group
  });
  text = absl::StrReplaceAll(text, {{"\n", " "}, {"\t", " "}});
  if (!absl::StrContains(text, "matrix")) {
    static const PyRegex kDoubleSlash(R"(\\\\(?=[a-zA-Z]))");
    text = kDoubleSlash.Sub(text, "\\");
  }
  return text;
}

// The reference's unit words ("integer" "point" is one word there: Python
// joins adjacent literals).
constexpr const char* kUnits[] = {
    "integerpoint", "feet", "sue", "digit", "pound", "meal", "edge", "student", "children ticket",
    "multiple", "east", "degree", "mph", "kmph", "ft", "m square", " m east", "sq m", "deg",
    "mile", "q .", "monkey", "prime", "ratio", "profit of rs", "rd", "o", "gm", "p . m", "lb",
    "tile", "per", "dm", "lt", "gain", "ab", "way", "west", "a .", "b .", "c .", "d .", "e .",
    "f .", "g .", "h .", "t", "h", "no change", "men", "soldier", "pie", "bc", "excess", "st",
    "inches", "noon", "cent", "by", "gal", "kmh", "c", "acre", "rise", "a . m", "th", "π r 2",
    "sq", "mark", "l", "toy", "coin", "sq . m", "gallon", "° f", "profit", "minw", "yr",
    "women", "am", "pm", "hr", "cu cm", "square", "v â € ™", "are", "rupee", "rounds", "cubic",
    "cc", "mtr", "s", "ohm", "number", "kmph", "day", "hour", "minute", "min", "second", "man",
    "woman", "sec", "cube", "mt", "sq inch", "mp", "∏ cm ³", "hectare", "more", "sec", "unit",
    "cu . m", "cm 2", "rs .", "rs", "kg", "g", "month", "km", "m", "cm", "mm", "apple", "liter",
    "loss", "yard", "pure", "year", "increase", "decrease", "d", "less", "Surface", "litre",
    "pi sq m", "s .", "metre", "meter", "inch"};

std::string Units(std::string text) {
  static const PyRegex kUnitSuperscript(R"((\\(?:text|mbox)\{.*?\})(\^\d|\{\^\d\})?$)");
  std::string stripped = Strip(kUnitSuperscript.Sub(text, ""));
  if (!stripped.empty() && stripped != text) text = stripped;
  static const PyRegex* const kUnit = [] {
    std::vector<std::string> words;
    for (const char* w : kUnits) words.push_back(w);  // unescaped: "q ." has a regex dot
    return new PyRegex(absl::StrCat(R"((\d|\}|\s)\s*(?:(?:)", absl::StrJoin(words, "|"),
                                    R"()(?:s|es)?)\s*$)"));
  }();
  for (int i = 0; i < 2; ++i) {
    std::string next = kUnit->SubWith(text, [](const PyMatch& m) { return m.groups[0].value_or(""); });
    if (!next.empty() && next != text) text = next;
  }
  return text;
}

// Hendrycks' fixes, as the reference has them: "\frac12" -> "\frac{1}{2}".
std::string FixFracs(const std::string& text) {
  std::vector<std::string> parts = absl::StrSplit(text, "\\frac");
  std::string out = parts[0];
  for (size_t i = 1; i < parts.size(); ++i) {
    std::string s = LStrip(parts[i]);
    out += "\\frac";
    if (!s.empty() && s[0] == '{') {
      out += s;
      continue;
    }
    if (CodePointCount(s) < 2) return text;  // also "\\frac" at the very end
    size_t a_len = Utf8SequenceLength(s, 0);
    std::string a = s.substr(0, a_len);
    size_t b_len = Utf8SequenceLength(s, a_len);
    std::string b = s.substr(a_len, b_len);
    std::string rest = s.substr(a_len + b_len);
    if (b != "{") {
      absl::StrAppend(&out, "{", a, "}{", b, "}", rest);
    } else {
      absl::StrAppend(&out, "{", a, "}", b, rest);
    }
  }
  return out;
}

std::string FixSqrt(const std::string& text) {
  if (!absl::StrContains(text, "\\sqrt")) return text;
  std::vector<std::string> parts = absl::StrSplit(text, "\\sqrt");
  std::string out = parts[0];
  for (size_t i = 1; i < parts.size(); ++i) {
    std::string s = LStrip(parts[i]);
    if (!s.empty() && s[0] != '{' && s[0] != '[') {
      size_t n = Utf8SequenceLength(s, 0);
      absl::StrAppend(&out, "\\sqrt{", s.substr(0, n), "}", s.substr(n));
    } else {
      absl::StrAppend(&out, "\\sqrt", s);
    }
  }
  return out;
}

// "2/3" -> "\frac{2}{3}" when both sides are plain integers.
std::string FixSlash(const std::string& text) {
  std::vector<std::string> parts = absl::StrSplit(text, '/');
  if (parts.size() != 2) return text;
  static const PyRegex kInt(R"(-?(?:0|[1-9][0-9]*))");
  for (const std::string& p : parts) {
    std::optional<PyMatch> m = kInt.Search(p);
    if (!m.has_value() || m->text != p) return text;
  }
  return absl::StrCat("\\frac{", parts[0], "}{", parts[1], "}");
}

std::string MalformedOperators(std::string text) {
  static const PyRegex kPowParen(R"(\^\s?\((.*?)\))");
  static const PyRegex kSqrtParen(R"(sqrt\s?\((.*?)\))");
  static const PyRegex kFracDigits(R"(\\frac\s?(\d)\s?(\d+))");
  static const PyRegex kLogDigits(R"(\\log_\s?(\d)\s?(\d+))");
  static const PyRegex kFracBraceDigit(R"(\\frac\s?\{(.*?)\}\s?(\d))");
  static const PyRegex kFracDigitBrace(R"(\\frac\s?(\d)\s?\{(.*?)\})");
  static const PyRegex kSqrtDigit(R"(\\sqrt\s?(\d))");
  auto grp = [](const PyMatch& m, size_t i) { return m.groups[i].value_or(""); };
  text = kPowParen.SubWith(text, [&](const PyMatch& m) { return absl::StrCat("^{", grp(m, 0), "}"); });
  text = kSqrtParen.SubWith(text, [&](const PyMatch& m) { return absl::StrCat("\\sqrt{", grp(m, 0), "}"); });
  text = kFracDigits.SubWith(text, [&](const PyMatch& m) {
    return absl::StrCat("\\frac{", grp(m, 0), "}{", grp(m, 1), "}");
  });
  text = kLogDigits.SubWith(text, [&](const PyMatch& m) {
    return absl::StrCat("\\log_{", grp(m, 0), "}{", grp(m, 1), "}");
  });
  text = kFracBraceDigit.SubWith(text, [&](const PyMatch& m) {
    return absl::StrCat("\\frac{", grp(m, 0), "}{", grp(m, 1), "}");
  });
  text = kFracDigitBrace.SubWith(text, [&](const PyMatch& m) {
    return absl::StrCat("\\frac{", grp(m, 0), "}{", grp(m, 1), "}");
  });
  text = kSqrtDigit.SubWith(text, [&](const PyMatch& m) { return absl::StrCat("\\sqrt{", grp(m, 0), "}"); });
  text = absl::StrReplaceAll(text, {{" sqrt", "\\sqrt"}});
  return FixSlash(FixFracs(FixSqrt(text)));
}

}  // namespace

std::string NormalizeLatexForVerify(absl::string_view latex, bool boxed_last) {
  std::string text = ExtractBoxedContent(latex, boxed_last);
  text = BasicLatex(std::move(text));
  text = Units(std::move(text));
  if (!text.empty() && text[0] == '.') text = "0" + text;
  if (text == "0.5") text = "\\frac{1}{2}";
  text = MalformedOperators(std::move(text));
  return Strip(text);
}

}  // namespace cohort::worker::eval
