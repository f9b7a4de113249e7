// File: text_util.h
//
// Small string helpers shared by the bench extractors: Python-compatible
// strip/split, code-point counting and slicing of UTF-8 text, and a
// findall over RE2 that behaves like Python's re.findall (non-overlapping,
// left to right, empty matches advance by one code point). Every function
// accepts arbitrary bytes, including invalid UTF-8, without crashing.
#ifndef COHORT_WORKER_EVAL_TEXT_UTIL_H_
#define COHORT_WORKER_EVAL_TEXT_UTIL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "re2/re2.h"

namespace cohort::worker::eval {

// Python str.strip() for ASCII white space (space, \t, \n, \v, \f, \r) plus
// the Unicode spaces U+00A0, U+2000..U+200A, U+2028, U+2029, U+3000, U+0085.
// Python str.isspace() for one code point (the 29 white-space code points).
bool IsPythonSpace(int32_t cp);

std::string Strip(absl::string_view text);
std::string LStrip(absl::string_view text);
std::string RStrip(absl::string_view text);

// Python str.strip(chars): removes any of the ASCII `chars` from both ends.
std::string StripChars(absl::string_view text, absl::string_view chars);

// ASCII lower-casing (bytes >= 0x80 are kept).
std::string AsciiLower(absl::string_view text);

// Python str.split(sep) for a non-empty separator (keeps empty pieces).
std::vector<std::string> SplitOn(absl::string_view text, absl::string_view sep);

// Python str.split() with no argument: runs of white space separate, no
// empty pieces.
std::vector<std::string> SplitWhitespace(absl::string_view text);

// Number of code points (what Python's len() gives for a str). Invalid
// bytes count one each.
int64_t CodePointCount(absl::string_view text);

// The last `n` code points of `text` (Python text[-n:]).
absl::string_view LastCodePoints(absl::string_view text, int64_t n);

// Byte length of the UTF-8 sequence starting at text[pos] (1 for an invalid
// lead byte), never past the end.
size_t Utf8SequenceLength(absl::string_view text, size_t pos);

// One match of FindAll: the whole match and its capture groups (an unset
// group is empty and `group_set` false).
struct RegexMatch {
  size_t begin = 0;
  size_t end = 0;
  std::vector<std::string> groups;
  std::vector<bool> group_set;
};

// Python re.findall / re.finditer over `text`.
std::vector<RegexMatch> FindAll(const RE2& re, absl::string_view text);

// The first set capture group of the last match (Python's findall()[-1]
// with tuples reduced to their first non-empty member), or "" when the
// pattern does not match.
std::string LastMatchGroup(const RE2& re, absl::string_view text);

// Python re.split(pattern, text) for a pattern without capture groups.
std::vector<std::string> RegexSplit(const RE2& re, absl::string_view text);

// RE2 options for patterns compiled once at startup: UTF-8, never logs.
RE2::Options QuietOptions(bool case_insensitive = false);

}  // namespace cohort::worker::eval

#endif  // COHORT_WORKER_EVAL_TEXT_UTIL_H_
