// NLTK's Punkt sentence tokenizer, tokenizing with a trained model (see
// punkt.h). Each function names the NLTK method it follows; the regular
// expressions NLTK uses are matched by hand on code points, with Python's
// meaning of \s (str.isspace), \d (category Nd) and \w (letters, numbers, _).
#include "worker/eval/punkt.h"

#include <unicode/locid.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <cstdlib>
#include <fstream>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "worker/eval/text_util.h"

namespace cohort::worker::eval {
namespace {

// Orthographic context flags (NLTK _ORTHO_*).
constexpr int kBegUc = 1 << 1, kMidUc = 1 << 2, kUnkUc = 1 << 3;
constexpr int kBegLc = 1 << 4, kMidLc = 1 << 5, kUnkLc = 1 << 6;
constexpr int kUc = kBegUc + kMidUc + kUnkUc;
constexpr int kLc = kBegLc + kMidLc + kUnkLc;

bool IsSpace(char32_t c) { return IsPythonSpace(static_cast<int32_t>(c)); }
bool IsDigit(char32_t c) { return u_charType(c) == U_DECIMAL_DIGIT_NUMBER; }
bool IsWord(char32_t c) {
  return c == '_' || u_isalpha(c) || u_charType(c) == U_DECIMAL_DIGIT_NUMBER ||
         u_charType(c) == U_LETTER_NUMBER || u_charType(c) == U_OTHER_NUMBER;
}
bool IsLetterLike(char32_t c) { return IsWord(c) && !IsDigit(c); }  // [^\W\d]

// string.whitespace: the ASCII white space _get_last_whitespace_index uses.
bool IsAsciiSpace(char32_t c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

bool IsSentEnd(char32_t c) { return c == '.' || c == '?' || c == '!'; }

// _re_non_word_chars: (?:[)\";}\]\*:@\'\({\[?!]).
bool IsNonWord(char32_t c) {
  return c == ')' || c == '"' || c == ';' || c == '}' || c == ']' || c == '*' || c == ':' ||
         c == '@' || c == '\'' || c == '(' || c == '{' || c == '[' || c == '?' || c == '!';
}

// _re_word_start excludes these from starting a word.
bool IsWordStart(char32_t c) {
  return std::u32string_view(U"(\"`{[:;&#*@)}]-,").find(c) == std::u32string_view::npos;
}

std::u32string Decode(absl::string_view text) {
  icu::UnicodeString u = icu::UnicodeString::fromUTF8(
      icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
  std::u32string out(static_cast<size_t>(u.countChar32()), U'\0');
  UErrorCode err = U_ZERO_ERROR;
  int32_t n = u.toUTF32(reinterpret_cast<UChar32*>(out.data()), static_cast<int32_t>(out.size()), err);
  out.resize(U_SUCCESS(err) ? static_cast<size_t>(n) : 0);
  return out;
}

std::string Encode(std::u32string_view text) {
  icu::UnicodeString u = icu::UnicodeString::fromUTF32(
      reinterpret_cast<const UChar32*>(text.data()), static_cast<int32_t>(text.size()));
  std::string out;
  u.toUTF8String(out);
  return out;
}

std::u32string Lower(const std::u32string& s) {
  icu::UnicodeString u = icu::UnicodeString::fromUTF32(
      reinterpret_cast<const UChar32*>(s.data()), static_cast<int32_t>(s.size()));
  u.toLower(icu::Locale::getRoot());
  return Decode([&] {
    std::string utf8;
    u.toUTF8String(utf8);
    return utf8;
  }());
}

// _re_multi_char_punct at i: \-{2,} | \.{2,} | (?:\.\s){2,}\. ; the length
// matched, 0 for none.
size_t MultiChar(const std::u32string& s, size_t i) {
  for (char32_t c : {U'-', U'.'}) {
    size_t j = i;
    while (j < s.size() && s[j] == c) ++j;
    if (j - i >= 2) return j - i;
  }
  size_t pairs = 0;
  while (i + 2 * pairs + 1 < s.size() && s[i + 2 * pairs] == '.' && IsSpace(s[i + 2 * pairs + 1])) {
    ++pairs;
  }
  for (; pairs >= 2; --pairs) {
    if (i + 2 * pairs < s.size() && s[i + 2 * pairs] == '.') return 2 * pairs + 1;
  }
  return 0;
}

// The lookahead that ends a word in _word_tokenize_fmt, at position j.
bool WordEndsAt(const std::u32string& s, size_t j) {
  if (j >= s.size() || IsSpace(s[j]) || IsNonWord(s[j]) || MultiChar(s, j) > 0) return true;
  if (s[j] != ',') return false;
  return j + 1 >= s.size() || IsSpace(s[j + 1]) || IsNonWord(s[j + 1]) || MultiChar(s, j + 1) > 0;
}

// PunktLanguageVars.word_tokenize: findall of the word regex on one line.
std::vector<std::u32string> SplitWords(const std::u32string& line) {
  std::vector<std::u32string> words;
  size_t i = 0;
  while (i < line.size()) {
    if (IsSpace(line[i])) {
      ++i;
      continue;
    }
    size_t n = MultiChar(line, i);
    if (n == 0 && IsWordStart(line[i])) {
      size_t j = i + 1;
      while (!WordEndsAt(line, j)) ++j;
      n = j - i;
    }
    if (n == 0) n = 1;  // \S
    words.push_back(line.substr(i, n));
    i += n;
  }
  return words;
}

// PunktToken._RE_NUMERIC: ^-?[\.,]?\d[\d,\.-]*\.?$
bool IsNumeric(const std::u32string& t) {
  size_t i = 0;
  if (i < t.size() && t[i] == '-') ++i;
  if (i < t.size() && (t[i] == '.' || t[i] == ',')) ++i;
  if (i >= t.size() || !IsDigit(t[i])) return false;
  ++i;
  while (i < t.size() && (IsDigit(t[i]) || t[i] == ',' || t[i] == '.' || t[i] == '-')) ++i;
  return i == t.size();  // the optional final "." is inside [\d,\.-]* already
}

bool EndsWith(const std::u32string& s, std::u32string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

struct PunktTokenizer::Token {
  std::u32string tok;
  std::u32string type;  // lower-cased, numbers as ##number##
  bool period_final = false;
  bool parastart = false;
  bool linestart = false;
  bool sentbreak = false;
  bool abbr = false;
  bool ellipsis = false;

  explicit Token(std::u32string t) : tok(std::move(t)) {
    std::u32string lower = Lower(tok);
    type = IsNumeric(lower) ? U"##number##" : lower;
    period_final = EndsWith(tok, U".");
  }
  std::u32string TypeNoPeriod() const {
    return type.size() > 1 && type.back() == '.' ? type.substr(0, type.size() - 1) : type;
  }
  std::u32string TypeNoSentPeriod() const { return sentbreak ? TypeNoPeriod() : type; }
  bool FirstUpper() const { return !tok.empty() && u_hasBinaryProperty(tok[0], UCHAR_UPPERCASE); }
  bool FirstLower() const { return !tok.empty() && u_hasBinaryProperty(tok[0], UCHAR_LOWERCASE); }
  bool IsEllipsis() const {  // \.\.+$ from the start
    if (tok.size() < 2) return false;
    for (char32_t c : tok) {
      if (c != '.') return false;
    }
    return true;
  }
  bool IsInitial() const { return tok.size() == 2 && IsLetterLike(tok[0]) && tok[1] == '.'; }
};

absl::StatusOr<PunktTokenizer> PunktTokenizer::Load(const std::string& dir) {
  PunktParameters p;
  auto read_lines = [&](const char* name, auto&& on_line) -> absl::Status {
    std::string path = absl::StrCat(dir, "/", name);
    std::ifstream in(path, std::ios::binary);
    if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot read the Punkt model"));
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) continue;
      if (!on_line(Decode(line))) {
        return absl::InvalidArgumentError(absl::StrCat(path, ":", n, ": not a punkt_tab line"));
      }
    }
    return absl::OkStatus();
  };
  auto split_tab = [](const std::u32string& line, std::u32string* a, std::u32string* b) {
    size_t tab = line.find(U'\t');
    if (tab == std::u32string::npos || line.find(U'\t', tab + 1) != std::u32string::npos) {
      return false;
    }
    *a = line.substr(0, tab);
    *b = line.substr(tab + 1);
    return true;
  };
  absl::Status s = read_lines("abbrev_types.txt", [&](std::u32string l) {
    p.abbrev_types.insert(std::move(l));
    return true;
  });
  if (s.ok()) {
    s = read_lines("sent_starters.txt", [&](std::u32string l) {
      p.sent_starters.insert(std::move(l));
      return true;
    });
  }
  if (s.ok()) {
    s = read_lines("collocations.tab", [&](const std::u32string& l) {
      std::u32string a, b;
      if (!split_tab(l, &a, &b)) return false;
      p.collocations.insert({a, b});
      return true;
    });
  }
  if (s.ok()) {
    s = read_lines("ortho_context.tab", [&](const std::u32string& l) {
      std::u32string word, flags;
      int value = 0;
      if (!split_tab(l, &word, &flags) || !absl::SimpleAtoi(Encode(flags), &value)) return false;
      p.ortho_context[word] = value;
      return true;
    });
  }
  if (!s.ok()) return s;
  return PunktTokenizer(std::move(p));
}

absl::StatusOr<const PunktTokenizer*> PunktTokenizer::English() {
  static const absl::StatusOr<PunktTokenizer>* loaded = [] {
    std::vector<std::string> dirs;
    if (const char* d = std::getenv("COHORT_PUNKT_DIR"); d != nullptr && *d != '\0') {
      dirs.push_back(d);
    } else {
      std::vector<std::string> roots;
      if (const char* nd = std::getenv("NLTK_DATA"); nd != nullptr) {
        for (absl::string_view r : absl::StrSplit(nd, ':', absl::SkipEmpty())) {
          roots.emplace_back(r);
        }
      }
      if (const char* home = std::getenv("HOME"); home != nullptr) {
        roots.push_back(absl::StrCat(home, "/nltk_data"));
      }
      for (const char* r : {"/usr/share/nltk_data", "/usr/local/share/nltk_data",
                            "/usr/lib/nltk_data", "/usr/local/lib/nltk_data"}) {
        roots.emplace_back(r);
      }
      for (const std::string& r : roots) dirs.push_back(r + "/tokenizers/punkt_tab/english");
    }
    for (const std::string& d : dirs) {
      if (std::ifstream(d + "/abbrev_types.txt").good()) {
        return new absl::StatusOr<PunktTokenizer>(Load(d));
      }
    }
    return new absl::StatusOr<PunktTokenizer>(absl::NotFoundError(absl::StrCat(
        "no NLTK Punkt English model (punkt_tab) in ", absl::StrJoin(dirs, ", "),
        "; set COHORT_PUNKT_DIR or NLTK_DATA (python3 -m nltk.downloader punkt_tab)")));
  }();
  if (!loaded->ok()) return loaded->status();
  return &loaded->value();
}

// PunktBaseClass._tokenize_words: tokens line by line, marking the first
// of each line and of each paragraph (after a blank line).
std::vector<PunktTokenizer::Token> PunktTokenizer::WordTokens(const std::u32string& text) const {
  std::vector<Token> tokens;
  bool parastart = false;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(U'\n', start);
    if (end == std::u32string::npos) end = text.size();
    std::u32string line = text.substr(start, end - start);
    bool blank = true;
    for (char32_t c : line) blank = blank && IsSpace(c);
    if (blank) {
      parastart = true;
    } else {
      std::vector<std::u32string> words = SplitWords(line);
      for (size_t i = 0; i < words.size(); ++i) {
        Token t(std::move(words[i]));
        if (i == 0) {
          t.parastart = parastart;
          t.linestart = true;
          parastart = false;
        }
        tokens.push_back(std::move(t));
      }
    }
    start = end + 1;
  }
  return tokens;
}

// PunktBaseClass._first_pass_annotation.
void PunktTokenizer::FirstPass(Token* t) const {
  const std::u32string& tok = t->tok;
  if (tok.size() == 1 && IsSentEnd(tok[0])) {
    t->sentbreak = true;
  } else if (t->IsEllipsis()) {
    t->ellipsis = true;
  } else if (t->period_final && !EndsWith(tok, U"..")) {
    std::u32string stem = Lower(tok.substr(0, tok.size() - 1));
    size_t dash = stem.rfind(U'-');
    std::u32string last = dash == std::u32string::npos ? stem : stem.substr(dash + 1);
    if (params_.abbrev_types.count(stem) || params_.abbrev_types.count(last)) {
      t->abbr = true;
    } else {
      t->sentbreak = true;
    }
  }
}

// PunktSentenceTokenizer._ortho_heuristic.
int PunktTokenizer::OrthoHeuristic(const Token& t) const {
  if (t.tok.size() == 1 && std::u32string_view(U";:,.!?").find(t.tok[0]) != std::u32string_view::npos) {
    return 0;
  }
  auto it = params_.ortho_context.find(t.TypeNoSentPeriod());
  int ortho = it == params_.ortho_context.end() ? 0 : it->second;
  if (t.FirstUpper() && (ortho & kLc) && !(ortho & kMidUc)) return 1;
  if (t.FirstLower() && ((ortho & kUc) || !(ortho & kBegLc))) return 0;
  return -1;
}

// PunktSentenceTokenizer._second_pass_annotation.
void PunktTokenizer::SecondPass(Token* t1, const Token* t2) const {
  if (t2 == nullptr || !t1->period_final) return;
  std::u32string typ = t1->TypeNoPeriod();
  std::u32string next_typ = t2->TypeNoSentPeriod();
  bool initial = t1->IsInitial();
  if (params_.collocations.count({typ, next_typ})) {
    t1->sentbreak = false;
    t1->abbr = true;
    return;
  }
  if ((t1->abbr || t1->ellipsis) && !initial) {
    int starter = OrthoHeuristic(*t2);
    if (starter == 1) {
      t1->sentbreak = true;
      return;
    }
    if (t2->FirstUpper() && params_.sent_starters.count(next_typ)) {
      t1->sentbreak = true;
      return;
    }
  }
  if (initial || typ == U"##number##") {
    int starter = OrthoHeuristic(*t2);
    if (starter == 0) {
      t1->sentbreak = false;
      t1->abbr = true;
      return;
    }
    auto it = params_.ortho_context.find(next_typ);
    int ortho = it == params_.ortho_context.end() ? 0 : it->second;
    if (starter == -1 && initial && t2->FirstUpper() && !(ortho & kLc)) {
      t1->sentbreak = false;
      t1->abbr = true;
    }
  }
}

// PunktSentenceTokenizer.text_contains_sentbreak: a sentence break with a
// token after it.
bool PunktTokenizer::ContainsSentbreak(const std::u32string& context) const {
  std::vector<Token> tokens = WordTokens(context);
  for (Token& t : tokens) FirstPass(&t);
  bool found = false;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (found) return true;
    SecondPass(&tokens[i], i + 1 < tokens.size() ? &tokens[i + 1] : nullptr);
    if (tokens[i].sentbreak) found = true;
  }
  return false;
}

// _match_potential_end_contexts + _slices_from_text: [start, end) spans.
std::vector<std::pair<size_t, size_t>> PunktTokenizer::Slices(const std::u32string& text) const {
  struct Match {
    size_t pos;            // the sentence-end character
    size_t after_len;      // after_tok's length
    size_t next_tok = 0;   // next_tok's start, when it took part
    bool has_next = false;
  };
  std::vector<std::pair<size_t, size_t>> slices;
  size_t last_break = 0;
  auto decide = [&](const Match& m, size_t word_start) {
    std::u32string context = text.substr(word_start, m.pos - word_start) +
                             text.substr(m.pos, 1 + m.after_len);
    if (!ContainsSentbreak(context)) return;
    slices.push_back({last_break, m.pos + 1});
    last_break = m.has_next ? m.next_tok : m.pos + 1;
  };
  std::optional<Match> previous;
  size_t prev_start = 0, prev_stop = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (!IsSentEnd(text[i])) continue;
    Match m{i, 0};
    if (i + 1 < text.size() && IsNonWord(text[i + 1])) {
      m.after_len = 1;
    } else {
      size_t j = i + 1;
      while (j < text.size() && IsSpace(text[j])) ++j;
      if (j == i + 1 || j >= text.size()) continue;  // needs \s+\S+
      size_t k = j;
      while (k < text.size() && !IsSpace(text[k])) ++k;
      m.after_len = k - (i + 1);
      m.next_tok = j;
      m.has_next = true;
    }
    // The word before: after the last ASCII white space since the previous
    // context (NLTK's index arithmetic, its 0 meaning "none" included).
    size_t index = 0;
    for (size_t p = i; p > prev_stop; --p) {
      if (IsAsciiSpace(text[p - 1])) {
        index = p - 1 - prev_stop;
        break;
      }
    }
    size_t word_start = index != 0 ? index + prev_stop + 1 : prev_start;
    if (previous.has_value() && prev_stop <= word_start) decide(*previous, prev_start);
    previous = m;
    prev_start = word_start;
    prev_stop = i;
  }
  if (previous.has_value()) decide(*previous, prev_start);
  size_t end = text.size();
  while (end > 0 && IsSpace(text[end - 1])) --end;
  slices.push_back({last_break, end});
  return slices;
}

std::vector<std::string> PunktTokenizer::Tokenize(absl::string_view utf8) const {
  std::u32string text = Decode(utf8);
  std::vector<std::pair<size_t, size_t>> slices = Slices(text);
  // _realign_boundaries: closing quotes and brackets after a break move to
  // the sentence before.
  std::vector<std::string> sentences;
  size_t realign = 0;
  for (size_t n = 0; n < slices.size(); ++n) {
    size_t start = slices[n].first + realign;
    size_t stop = slices[n].second;
    auto emit = [&] {
      if (start < stop) sentences.push_back(Encode(std::u32string_view(text).substr(start, stop - start)));
    };
    if (n + 1 == slices.size()) {
      emit();
      continue;
    }
    size_t next = slices[n + 1].first;
    size_t next_stop = slices[n + 1].second;
    // re_boundary_realignment.match: ["')\]}]+? then \s+, (?=--) or $.
    size_t k = next;
    size_t matched = 0;
    while (k < next_stop && std::u32string_view(U"\"')]}").find(text[k]) != std::u32string_view::npos) {
      ++k;
      size_t w = k;
      while (w < next_stop && IsSpace(text[w])) ++w;
      if (w > k) {
        matched = w - next;
        break;
      }
      if ((k + 1 < next_stop && text[k] == '-' && text[k + 1] == '-') || k == next_stop ||
          text[k] == '\n') {
        matched = k - next;
        break;
      }
    }
    if (matched > 0) {
      size_t closing = 0;
      while (closing < matched && !IsSpace(text[next + closing])) ++closing;
      stop = next + closing;
      emit();
      realign = matched;
    } else {
      realign = 0;
      emit();
    }
  }
  return sentences;
}

}  // namespace cohort::worker::eval
