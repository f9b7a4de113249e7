// File: py_regex.h
//
// Regular expressions that match as Python's `re` matches a str pattern,
// for the extractors the protocol defines in Python (AIME, ARC, GPQA). RE2
// reads `\s`, `\d`, `\w` and `\b` as ASCII; Python reads them as Unicode, so a
// no-break space (U+00A0) or a narrow no-break space (U+202F) in
// "real part is\u202f540", a full-width digit, or a letter with an accent
// after "answer is A" changes which rule fires. PyRegex runs on ICU's
// backtracking engine (the same leftmost-first search Python's sre does)
// with the pattern rewritten so each class means what it means in Python:
//
//   \d  Unicode decimal digits (category Nd)           str.isdecimal()
//   \s  the 29 code points of str.isspace()             U+0009..000D, 001C..001F,
//       0020, 0085, 00A0, 1680, 2000..200A, 2028, 2029, 202F, 205F, 3000
//   \w  letters (L*), numbers (N*) and "_"             str.isalnum() or "_"
//   \b  a change between \w and not-\w (look-arounds); \B its negation
//   \Z  the very end of the text (Python's \Z; ICU's \z)
//   .  ^  $   only "\n" ends a line, as in Python (ICU UNIX_LINES)
//
// Flags are Python's re.I / re.M / re.S (inline (?i) (?m) (?s) work too).
// Matching is bounded: a search that runs past ICU's step limit (a
// pathological pattern on megabytes) ends the search with the matches found
// so far, so an extractor stays a total function.
//
// Thread safety: a PyRegex is immutable after construction; any number of
// threads may match with one object at once (each call has its own matcher).
#ifndef COHORT_WORKER_EVAL_PY_REGEX_H_
#define COHORT_WORKER_EVAL_PY_REGEX_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <unicode/uversion.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

U_NAMESPACE_BEGIN
class RegexPattern;
U_NAMESPACE_END

namespace cohort::worker::eval {

// One match: the whole match and each capture group (nullopt: the group
// did not take part, as Python's None), all UTF-8.
struct PyMatch {
  std::string text;
  std::vector<std::optional<std::string>> groups;
  // Where the match lies, in UTF-16 code units from the start of the text:
  // enough to order matches (Python's match.start()/end() order the same).
  int start = 0;
  int end = 0;
};

class PyRegex {
 public:
  enum Flags : int {
    kNone = 0,
    kIgnoreCase = 1,  // re.I
    kMultiline = 2,   // re.M
    kDotAll = 4,      // re.S
  };

  // `pattern` in Python's syntax (the subset shared with ICU: no named groups
  // (?P<..>), no conditionals). A pattern that does not compile leaves the
  // object matching nothing; status() says why (tests check every pattern).
  explicit PyRegex(absl::string_view pattern, int flags = kNone);
  ~PyRegex();
  PyRegex(const PyRegex&) = delete;
  PyRegex& operator=(const PyRegex&) = delete;

  const absl::Status& status() const { return status_; }

  // re.finditer: non-overlapping matches, left to right.
  std::vector<PyMatch> FindAll(absl::string_view text) const;

  // re.search: the first match, if any.
  std::optional<PyMatch> Search(absl::string_view text) const;

  // re.findall(...)[-1] for a pattern with one group: the last match's
  // group 1 ("" when the group did not take part), or nullopt when there
  // is no match. (Python's findall gives "" for a group that did not take
  // part, which is a hit all the same.)
  std::optional<std::string> LastGroup(absl::string_view text) const;

  // re.sub(pattern, replacement, text) with a literal replacement.
  std::string Sub(absl::string_view text, absl::string_view replacement) const;

  // re.sub(pattern, function, text): each match replaced by replace(match).
  std::string SubWith(absl::string_view text,
                      const std::function<std::string(const PyMatch&)>& replace) const;

  // The ICU pattern the Python pattern was rewritten into (for tests).
  static std::string TranslateForIcu(absl::string_view python_pattern);

 private:
  template <typename Fn>
  void ForEachMatch(absl::string_view text, Fn&& fn) const;

  std::unique_ptr<icu::RegexPattern> pattern_;
  absl::Status status_;
};

}  // namespace cohort::worker::eval

#endif  // COHORT_WORKER_EVAL_PY_REGEX_H_
