#include "worker/eval/py_regex.h"

#include <unicode/parseerr.h>
#include <unicode/regex.h>
#include <unicode/unistr.h>

#include "absl/strings/str_cat.h"

namespace cohort::worker::eval {
namespace {

// Python's str.isspace() code points, as an ICU set body.
constexpr absl::string_view kSpaceSet =
    "\\u0009-\\u000D\\u001C-\\u0020\\u0085\\u00A0\\u1680\\u2000-\\u200A"
    "\\u2028\\u2029\\u202F\\u205F\\u3000";
// str.isalnum() or "_": letters of every case and numbers of every kind.
constexpr absl::string_view kWordSet = "\\p{L}\\p{N}_";

std::string Set(absl::string_view body, bool negated) {
  return absl::StrCat("[", negated ? "^" : "", body, "]");
}

std::string Boundary(bool negated) {
  std::string w = Set(kWordSet, false);
  if (negated) return absl::StrCat("(?:(?<=", w, ")(?=", w, ")|(?<!", w, ")(?!", w, "))");
  return absl::StrCat("(?:(?<=", w, ")(?!", w, ")|(?<!", w, ")(?=", w, "))");
}

// The ICU spelling of Python escape `c`, or "" when it is copied as is.
std::string TranslateEscape(char c, bool in_class) {
  switch (c) {
    case 'd': return "[\\p{Nd}]";
    case 'D': return "[^\\p{Nd}]";
    case 's': return Set(kSpaceSet, false);
    case 'S': return Set(kSpaceSet, true);
    case 'w': return Set(kWordSet, false);
    case 'W': return Set(kWordSet, true);
    case 'b': return in_class ? "\\u0008" : Boundary(false);
    case 'B': return in_class ? "" : Boundary(true);
    case 'Z': return in_class ? "" : "\\z";
    default: return "";
  }
}

// Characters ICU's set syntax reads as operators or variables where Python
// reads a literal.
bool NeedsEscapeInClass(char c) {
  return c == '[' || c == '&' || c == '$' || c == '{' || c == '}' || c == ':';
}

icu::UnicodeString ToIcu(absl::string_view text) {
  return icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(),
                                                       static_cast<int32_t>(text.size())));
}

std::string ToUtf8(const icu::UnicodeString& s) {
  std::string out;
  s.toUTF8String(out);
  return out;
}

// ICU counts in ticks of its match engine: 3000 is about half a second on
// this project's CI machine (PyRegexTest.PathologicalSearch...), far past
// what any extractor pattern needs on a 64 KiB completion.
constexpr int32_t kStepLimit = 3000;

}  // namespace

std::string PyRegex::TranslateForIcu(absl::string_view p) {
  std::string out;
  bool in_class = false;
  size_t class_start = 0;  // index of the first member of the open class
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      std::string sub = TranslateEscape(p[i + 1], in_class);
      if (sub.empty()) {
        out += c;
        out += p[i + 1];
      } else {
        out += sub;
      }
      ++i;
      continue;
    }
    if (!in_class) {
      out += c;
      if (c == '[') {
        in_class = true;
        class_start = i + 1;
        if (class_start < p.size() && p[class_start] == '^') {
          out += '^';
          ++i;
          ++class_start;
        }
      }
      continue;
    }
    // Inside a class: "]" first is a literal in Python; a later one closes.
    if (c == ']' && i != class_start) {
      in_class = false;
      out += c;
    } else if (c == ']' || NeedsEscapeInClass(c)) {
      out += '\\';
      out += c;
    } else {
      out += c;
    }
  }
  return out;
}

PyRegex::PyRegex(absl::string_view pattern, int flags) {
  uint32_t icu_flags = UREGEX_UNIX_LINES;
  if (flags & kIgnoreCase) icu_flags |= UREGEX_CASE_INSENSITIVE;
  if (flags & kMultiline) icu_flags |= UREGEX_MULTILINE;
  if (flags & kDotAll) icu_flags |= UREGEX_DOTALL;
  UErrorCode err = U_ZERO_ERROR;
  UParseError parse{};
  pattern_.reset(icu::RegexPattern::compile(ToIcu(TranslateForIcu(pattern)), icu_flags,
                                            parse, err));
  if (U_FAILURE(err) || pattern_ == nullptr) {
    pattern_.reset();
    status_ = absl::InternalError(absl::StrCat("regex '", pattern, "' does not compile: ",
                                               u_errorName(err), " at offset ", parse.offset));
  }
}

PyRegex::~PyRegex() = default;

template <typename Fn>
void PyRegex::ForEachMatch(absl::string_view text, Fn&& fn) const {
  if (pattern_ == nullptr) return;
  icu::UnicodeString input = ToIcu(text);
  UErrorCode err = U_ZERO_ERROR;
  std::unique_ptr<icu::RegexMatcher> m(pattern_->matcher(input, err));
  if (U_FAILURE(err)) return;
  m->setTimeLimit(kStepLimit, err);
  while (U_SUCCESS(err) && m->find(err) && U_SUCCESS(err)) {
    if (!fn(*m)) return;
  }
}

namespace {

PyMatch MatchOf(icu::RegexMatcher& m) {
  UErrorCode err = U_ZERO_ERROR;
  PyMatch match;
  match.text = ToUtf8(m.group(err));
  match.start = m.start(err);
  match.end = m.end(err);
  for (int32_t g = 1; g <= m.groupCount(); ++g) {
    err = U_ZERO_ERROR;
    if (m.start(g, err) < 0) {
      match.groups.push_back(std::nullopt);
    } else {
      match.groups.push_back(ToUtf8(m.group(g, err)));
    }
  }
  return match;
}

}  // namespace

std::vector<PyMatch> PyRegex::FindAll(absl::string_view text) const {
  std::vector<PyMatch> out;
  ForEachMatch(text, [&](icu::RegexMatcher& m) {
    out.push_back(MatchOf(m));
    return true;
  });
  return out;
}

std::optional<PyMatch> PyRegex::Search(absl::string_view text) const {
  std::optional<PyMatch> out;
  ForEachMatch(text, [&](icu::RegexMatcher& m) {
    out = MatchOf(m);
    return false;
  });
  return out;
}

std::optional<std::string> PyRegex::LastGroup(absl::string_view text) const {
  std::optional<std::string> out;
  ForEachMatch(text, [&](icu::RegexMatcher& m) {
    UErrorCode err = U_ZERO_ERROR;
    if (m.groupCount() < 1 || m.start(1, err) < 0) {
      out = std::string();
    } else {
      out = ToUtf8(m.group(1, err));
    }
    return true;
  });
  return out;
}

std::string PyRegex::Sub(absl::string_view text, absl::string_view replacement) const {
  return SubWith(text, [&](const PyMatch&) { return std::string(replacement); });
}

std::string PyRegex::SubWith(absl::string_view text,
                             const std::function<std::string(const PyMatch&)>& replace) const {
  icu::UnicodeString input = ToIcu(text);
  icu::UnicodeString out;
  int32_t copied = 0;
  bool matched = false;
  ForEachMatch(text, [&](icu::RegexMatcher& m) {
    PyMatch match = MatchOf(m);
    out.append(input, copied, match.start - copied);
    out.append(ToIcu(replace(match)));
    copied = match.end;
    matched = true;
    return true;
  });
  if (!matched) return std::string(text);
  out.append(input, copied, input.length() - copied);
  return ToUtf8(out);
}

}  // namespace cohort::worker::eval
