// Normalisation and extraction half of math_answer.h; the structural
// comparison lives in math_answer.cc.
#include <algorithm>
#include <cstring>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "re2/re2.h"
#include "worker/eval/math_answer.h"
#include "worker/eval/text_util.h"

namespace cohort::worker::eval {
namespace {

// Index just past the brace group opening at text[open] ('{'), or npos when
// it never closes. Escaped braces (\{ \}) do not count.
size_t MatchBrace(absl::string_view text, size_t open) {
  int depth = 0;
  for (size_t i = open; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\\') {
      ++i;
      continue;
    }
    if (c == '{') ++depth;
    if (c == '}' && --depth == 0) return i + 1;
  }
  return absl::string_view::npos;
}

// Replaces every "\name{X}" by X (when `keep_content`) or by nothing.
std::string UnwrapCommand(std::string s, absl::string_view name, bool keep_content) {
  std::string needle = absl::StrCat("\\", name, "{");
  size_t at = 0;
  while ((at = s.find(needle, at)) != std::string::npos) {
    size_t open = at + needle.size() - 1;
    size_t end = MatchBrace(s, open);
    if (end == std::string::npos) break;
    std::string inner = s.substr(open + 1, end - open - 2);
    s.replace(at, end - at, keep_content ? inner : "");
  }
  return s;
}

// "10\text{ cm}" -> "10": a trailing \text{} after other content is a unit.
std::string DropTrailingTextUnit(std::string s) {
  static const RE2 kUnit("^(.*[0-9}).])\\s*\\\\(?:text|mbox|mathrm)\\{\\s*[A-Za-z ]+\\}$");
  std::string head;
  if (RE2::FullMatch(s, kUnit, &head)) return head;
  return s;
}

// "x = 5" -> "5" when the left side is a short name (Hendrycks' rule, also
// for \theta-style names).
std::string DropVariablePrefix(const std::string& s) {
  static const RE2 kPrefix("^\\s*([A-Za-z]{1,2}|\\\\[A-Za-z]+)\\s*=\\s*(.+)$");
  std::string lhs;
  std::string rhs;
  if (s.find('=') != s.rfind('=')) return s;
  if (RE2::FullMatch(s, kPrefix, &lhs, &rhs)) return rhs;
  return s;
}

std::string FixShortMacros(std::string s) {
  static const RE2 kSqrt("\\\\sqrt(\\d)");
  static const RE2 kFracTwo("\\\\frac(\\d)(\\d)");
  static const RE2 kFracFirst("\\\\frac(\\d)\\{");
  static const RE2 kFracSecond("\\\\frac\\{([^{}]*)\\}(\\d)");
  static const RE2 kLeadingDot("(^|[^0-9])\\.([0-9])");
  RE2::GlobalReplace(&s, kSqrt, "\\\\sqrt{\\1}");
  RE2::GlobalReplace(&s, kFracTwo, "\\\\frac{\\1}{\\2}");
  RE2::GlobalReplace(&s, kFracFirst, "\\\\frac{\\1}{");
  RE2::GlobalReplace(&s, kFracSecond, "\\\\frac{\\1}{\\2}");
  RE2::GlobalReplace(&s, kLeadingDot, "\\10.\\2");
  return s;
}

std::string StripMathDelimiters(std::string s) {
  s = Strip(s);
  bool changed = true;
  while (changed && s.size() >= 2) {
    changed = false;
    for (auto [open, close] : std::vector<std::pair<const char*, const char*>>{
             {"$$", "$$"}, {"$", "$"}, {"\\(", "\\)"}, {"\\[", "\\]"}}) {
      if (absl::StartsWith(s, open) && absl::EndsWith(s, close) &&
          s.size() >= strlen(open) + strlen(close)) {
        s = Strip(s.substr(strlen(open), s.size() - strlen(open) - strlen(close)));
        changed = true;
        break;
      }
    }
  }
  std::string boxed;
  if (absl::StartsWith(s, "\\boxed") && LastBoxed(s, &boxed)) s = Strip(boxed);
  return s;
}

}  // namespace

bool LastBoxed(absl::string_view text, std::string* content) {
  size_t search_end = text.size();
  // Each attempt scans to the closing brace; a bounded number of attempts
  // keeps "\boxed{\boxed{\boxed{..." (never closed) linear.
  for (int attempt = 0; attempt < 16 && search_end > 0; ++attempt) {
    size_t boxed = text.rfind("\\boxed", search_end - 1);
    size_t fbox = text.rfind("\\fbox", search_end - 1);
    size_t at = boxed == absl::string_view::npos ? fbox
                : fbox == absl::string_view::npos ? boxed
                                                  : std::max(boxed, fbox);
    if (at == absl::string_view::npos) return false;
    size_t pos = at + (at == boxed ? 6 : 5);
    if (pos < text.size() && text[pos] == ' ') {  // "\boxed 5"
      size_t end = text.find_first_of("$ \n", pos + 1);
      *content = std::string(text.substr(pos + 1, end == absl::string_view::npos
                                                      ? absl::string_view::npos
                                                      : end - pos - 1));
      if (!content->empty()) return true;
    }
    while (pos < text.size() && text[pos] == ' ') ++pos;
    if (pos < text.size() && text[pos] == '{') {
      size_t end = MatchBrace(text, pos);
      if (end != absl::string_view::npos) {
        *content = std::string(text.substr(pos + 1, end - pos - 2));
        return true;
      }
    }
    search_end = at;
  }
  return false;
}

std::string ExtractMathAnswer(absl::string_view text, std::string* rule) {
  static const RE2 kHope(
      "(?i)final answer is\\s*(.+?)\\.?\\s*I hope it is correct", QuietOptions());
  static const RE2 kAnswer("(?i)(?:final answer|answer)\\s*(?:is|:)\\s*([^\\n]+)",
                           QuietOptions());
  static const RE2 kInlineMath("\\$([^$]+)\\$|\\\\\\((.+?)\\\\\\)|\\\\\\[(.+?)\\\\\\]",
                               QuietOptions());
  static const RE2 kNumber("(-?\\d+(?:\\.\\d+)?(?:/\\d+)?)", QuietOptions());
  std::string found = LastMatchGroup(kHope, text);
  if (!found.empty()) { *rule = "final_answer_hope"; return StripMathDelimiters(found); }
  if (LastBoxed(text, &found)) { *rule = "boxed"; return found; }
  found = LastMatchGroup(kAnswer, text);
  if (!found.empty()) {
    std::string cleaned = StripMathDelimiters(StripChars(Strip(found), "."));
    if (!cleaned.empty()) { *rule = "answer_phrase"; return cleaned; }
  }
  found = LastMatchGroup(kInlineMath, text);
  if (!found.empty()) { *rule = "last_math"; return Strip(found); }
  found = LastMatchGroup(kNumber, text);
  if (!found.empty()) { *rule = "last_number"; return found; }
  *rule = "none";
  return "";
}

std::string NormalizeMathAnswer(absl::string_view answer) {
  std::string s = StripMathDelimiters(std::string(answer));
  s = absl::StrReplaceAll(
      s, {{"\n", " "}, {"\\!", ""}, {"\\,", ""}, {"\\;", ""}, {"\\:", ""},
          {"\\qquad", ""}, {"\\quad", ""}, {"\\displaystyle", ""},
          {"\\left", ""}, {"\\right", ""}, {"\\dfrac", "\\frac"},
          {"\\tfrac", "\\frac"}, {"^{\\circ}", ""}, {"^\\circ", ""},
          {"\xC2\xB0", ""}, {"\\%", ""}, {"%", ""}, {"\\$", ""}, {"$", ""},
          {"{,}", ""}, {"\\dots", "\\ldots"}});
  s = DropTrailingTextUnit(Strip(s));
  for (const char* name : {"text", "textbf", "mbox", "mathrm", "mathbf", "textit"}) {
    s = UnwrapCommand(s, name, /*keep_content=*/true);
  }
  s = DropVariablePrefix(s);
  s = Strip(s);
  while (!s.empty() && s.back() == '.') s.pop_back();  // a sentence's full stop
  std::string no_space;
  for (char c : s) {
    if (c != ' ' && c != '\t' && c != '~') no_space.push_back(c);
  }
  static const RE2 kThousands("^-?\\d{1,3}(,\\d{3})+(\\.\\d+)?$");
  if (RE2::FullMatch(no_space, kThousands)) {
    no_space = absl::StrReplaceAll(no_space, {{",", ""}});
  }
  return FixShortMacros(no_space);
}

}  // namespace cohort::worker::eval
