#include "worker/eval/text_util.h"

#include <algorithm>

namespace cohort::worker::eval {
namespace {

// Decodes the code point at text[pos]; returns -1 for an invalid sequence.
int32_t DecodeAt(absl::string_view text, size_t pos, size_t* length) {
  *length = Utf8SequenceLength(text, pos);
  unsigned char lead = static_cast<unsigned char>(text[pos]);
  if (*length == 1) return lead < 0x80 ? lead : -1;
  int32_t cp = lead & (0xFF >> (*length + 1));
  for (size_t i = 1; i < *length; ++i) {
    cp = (cp << 6) | (static_cast<unsigned char>(text[pos + i]) & 0x3F);
  }
  return cp;
}

// Byte offset just past the leading white space.
size_t SkipLeadingSpace(absl::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t len = 0;
    if (!IsPythonSpace(DecodeAt(text, pos, &len))) break;
    pos += len;
  }
  return pos;
}

// Byte offset of the end of the text without its trailing white space.
size_t TrimTrailingSpace(absl::string_view text) {
  size_t end = text.size();
  while (end > 0) {
    size_t start = end - 1;
    // Step back over continuation bytes to the lead byte (at most 3).
    while (start > 0 && end - start < 4 &&
           (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) {
      --start;
    }
    size_t len = 0;
    int32_t cp = DecodeAt(text, start, &len);
    if (start + len != end) {  // not one whole sequence: treat byte alone
      start = end - 1;
      cp = static_cast<unsigned char>(text[start]);
      if (cp >= 0x80) break;
    }
    if (!IsPythonSpace(cp)) break;
    end = start;
  }
  return end;
}

}  // namespace

bool IsPythonSpace(int32_t cp) {
  if (cp == ' ' || (cp >= '\t' && cp <= '\r')) return true;
  if (cp == 0x1C || cp == 0x1D || cp == 0x1E || cp == 0x1F) return true;
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

size_t Utf8SequenceLength(absl::string_view text, size_t pos) {
  unsigned char lead = static_cast<unsigned char>(text[pos]);
  size_t want = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xE ? 3
                : (lead >> 3) == 0x1E ? 4 : 1;
  if (want == 1) return 1;
  if (pos + want > text.size()) return 1;
  for (size_t i = 1; i < want; ++i) {
    if ((static_cast<unsigned char>(text[pos + i]) & 0xC0) != 0x80) return 1;
  }
  return want;
}

std::string Strip(absl::string_view text) {
  size_t begin = SkipLeadingSpace(text);
  size_t end = TrimTrailingSpace(text);
  return begin >= end ? std::string() : std::string(text.substr(begin, end - begin));
}

std::string LStrip(absl::string_view text) {
  return std::string(text.substr(SkipLeadingSpace(text)));
}

std::string RStrip(absl::string_view text) {
  return std::string(text.substr(0, TrimTrailingSpace(text)));
}

std::string StripChars(absl::string_view text, absl::string_view chars) {
  size_t begin = 0;
  size_t end = text.size();
  while (begin < end && chars.find(text[begin]) != absl::string_view::npos) ++begin;
  while (end > begin && chars.find(text[end - 1]) != absl::string_view::npos) --end;
  return std::string(text.substr(begin, end - begin));
}

std::string AsciiLower(absl::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::vector<std::string> SplitOn(absl::string_view text, absl::string_view sep) {
  std::vector<std::string> pieces;
  if (sep.empty()) {
    pieces.emplace_back(text);
    return pieces;
  }
  size_t start = 0;
  while (true) {
    size_t at = text.find(sep, start);
    if (at == absl::string_view::npos) break;
    pieces.emplace_back(text.substr(start, at - start));
    start = at + sep.size();
  }
  pieces.emplace_back(text.substr(start));
  return pieces;
}

std::vector<std::string> SplitWhitespace(absl::string_view text) {
  std::vector<std::string> pieces;
  size_t pos = 0;
  std::string current;
  while (pos < text.size()) {
    size_t len = 0;
    int32_t cp = DecodeAt(text, pos, &len);
    if (IsPythonSpace(cp)) {
      if (!current.empty()) pieces.push_back(std::move(current));
      current.clear();
    } else {
      current.append(text.data() + pos, len);
    }
    pos += len;
  }
  if (!current.empty()) pieces.push_back(std::move(current));
  return pieces;
}

int64_t CodePointCount(absl::string_view text) {
  int64_t count = 0;
  for (size_t pos = 0; pos < text.size(); pos += Utf8SequenceLength(text, pos)) {
    ++count;
  }
  return count;
}

absl::string_view LastCodePoints(absl::string_view text, int64_t n) {
  int64_t total = CodePointCount(text);
  if (n >= total) return text;
  int64_t skip = total - n;
  size_t pos = 0;
  for (int64_t i = 0; i < skip; ++i) pos += Utf8SequenceLength(text, pos);
  return text.substr(pos);
}

std::vector<RegexMatch> FindAll(const RE2& re, absl::string_view text) {
  std::vector<RegexMatch> matches;
  if (!re.ok()) return matches;
  const int ngroups = re.NumberOfCapturingGroups();
  std::vector<re2::StringPiece> sub(ngroups + 1);
  re2::StringPiece input(text.data(), text.size());
  size_t pos = 0;
  while (pos <= text.size()) {
    if (!re.Match(input, pos, text.size(), RE2::UNANCHORED, sub.data(),
                  ngroups + 1)) {
      break;
    }
    RegexMatch m;
    m.begin = static_cast<size_t>(sub[0].data() - text.data());
    m.end = m.begin + sub[0].size();
    for (int g = 1; g <= ngroups; ++g) {
      m.group_set.push_back(sub[g].data() != nullptr);
      m.groups.emplace_back(sub[g].data() != nullptr ? std::string(sub[g]) : "");
    }
    // An empty match must not be found again at the same place.
    pos = m.end > m.begin ? m.end
          : m.end < text.size() ? m.end + Utf8SequenceLength(text, m.end)
                                : text.size() + 1;
    matches.push_back(std::move(m));
  }
  return matches;
}

std::string LastMatchGroup(const RE2& re, absl::string_view text) {
  std::vector<RegexMatch> matches = FindAll(re, text);
  if (matches.empty()) return "";
  const RegexMatch& last = matches.back();
  if (last.groups.empty()) {
    return std::string(text.substr(last.begin, last.end - last.begin));
  }
  for (const std::string& g : last.groups) {
    if (!g.empty()) return g;
  }
  return "";
}

std::vector<std::string> RegexSplit(const RE2& re, absl::string_view text) {
  std::vector<std::string> pieces;
  size_t start = 0;
  for (const RegexMatch& m : FindAll(re, text)) {
    // Python 3.7+ splits on empty matches too; keep that behaviour.
    pieces.emplace_back(text.substr(start, m.begin - start));
    start = m.end;
  }
  pieces.emplace_back(text.substr(std::min(start, text.size())));
  return pieces;
}

RE2::Options QuietOptions(bool case_insensitive) {
  RE2::Options options;
  options.set_log_errors(false);
  options.set_case_sensitive(!case_insensitive);
  return options;
}

}  // namespace cohort::worker::eval
