#include "worker/eval/ifeval_text.h"

#include <unicode/brkiter.h>
#include <unicode/locid.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include <memory>
#include <string>

#include "absl/strings/ascii.h"
#include "re2/re2.h"
#include "worker/eval/langdetect.h"
#include "worker/eval/punkt.h"
#include "worker/eval/py_regex.h"
#include "worker/eval/text_util.h"

namespace cohort::worker::eval {
namespace {

// Calls `fn(code point)` for each code point; invalid bytes give U+FFFD.
template <typename Fn>
void ForEachCodePoint(absl::string_view text, Fn fn) {
  int32_t i = 0;
  const int32_t n = static_cast<int32_t>(text.size());
  const uint8_t* s = reinterpret_cast<const uint8_t*>(text.data());
  while (i < n) {
    UChar32 c;
    U8_NEXT(s, i, n, c);
    fn(c < 0 ? 0xFFFD : c);
  }
}

// Python re.sub's template: \1 \2 \3 and \g<0>.
std::string Expand(absl::string_view tmpl, const PyMatch& m) {
  std::string out;
  for (size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] != '\\' || i + 1 >= tmpl.size()) {
      out += tmpl[i];
    } else if (tmpl[i + 1] >= '1' && tmpl[i + 1] <= '9') {
      size_t g = static_cast<size_t>(tmpl[i + 1] - '1');
      if (g < m.groups.size() && m.groups[g].has_value()) out += *m.groups[g];
      ++i;
    } else if (tmpl.substr(i, 5) == "\\g<0>") {
      out += m.text;
      i += 4;
    } else {
      out += tmpl[i];
    }
  }
  return out;
}

struct Rule {
  Rule(const char* pattern, const char* replacement) : re(pattern), with(replacement) {}
  PyRegex re;
  const char* with;
};

// NLTK's NLTKWordTokenizer (nltk.word_tokenize's per-sentence tokenizer),
// its substitutions in its order.
const std::vector<std::unique_ptr<Rule>>& TreebankRules() {
  static const auto* rules = [] {
    auto* r = new std::vector<std::unique_ptr<Rule>>();
    auto add = [&](const char* pattern, const char* with) {
      r->push_back(std::make_unique<Rule>(pattern, with));
    };
    // STARTING_QUOTES
    add("([\u00ab\u201c\u2018\u201e]|[`]+)", " \\1 ");
    add("^\"", "``");
    add("(``)", " \\1 ");
    add("([ \\(\\[{<])(\"|\'{2})", "\\1 `` ");
    add("(?i)(\')(?!re|ve|ll|m|t|s|d|n)(\\w)\\b", "\\1 \\2");
    // PUNCTUATION
    add("([^\\.])(\\.)([\\]\\)}>\"\'\u00bb\u201d\u2019 ]*)\\s*$", "\\1 \\2 \\3 ");
    add("([:,])([^\\d])", " \\1 \\2");
    add("([:,])$", " \\1 ");
    add("\\.{2,}", " \\g<0> ");
    add("[;@#$%&]", " \\g<0> ");
    add("([^\\.])(\\.)([\\]\\)}>\"\']*)\\s*$", "\\1 \\2\\3 ");
    add("[?!]", " \\g<0> ");
    add("([^'])' ", "\\1 ' ");
    add("[*]", " \\g<0> ");
    // PARENS_BRACKETS, DOUBLE_DASHES
    add("[\\]\\[\\(\\)\\{\\}\\<\\>]", " \\g<0> ");
    add("--", " -- ");
    return r;
  }();
  return *rules;
}

// Applied after the text is padded with a space on each side.
const std::vector<std::unique_ptr<Rule>>& TreebankEndRules() {
  static const auto* rules = [] {
    auto* r = new std::vector<std::unique_ptr<Rule>>();
    auto add = [&](const char* pattern, const char* with) {
      r->push_back(std::make_unique<Rule>(pattern, with));
    };
    // ENDING_QUOTES
    add("([\u00bb\u201d\u2019])", " \\1 ");
    add("''", " '' ");
    add("\"", " '' ");
    add("([^' ])('[sS]|'[mM]|'[dD]|') ", "\\1 \\2 ");
    add("([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) ", "\\1 \\2 ");
    // CONTRACTIONS2, CONTRACTIONS3 (MacIntyre's)
    for (const char* c : {"(?i)\\b(can)(?#X)(not)\\b", "(?i)\\b(d)(?#X)('ye)\\b",
                          "(?i)\\b(gim)(?#X)(me)\\b", "(?i)\\b(gon)(?#X)(na)\\b",
                          "(?i)\\b(got)(?#X)(ta)\\b", "(?i)\\b(lem)(?#X)(me)\\b",
                          "(?i)\\b(more)(?#X)('n)\\b", "(?i)\\b(wan)(?#X)(na)(?=\\s)",
                          "(?i) ('t)(?#X)(is)\\b", "(?i) ('t)(?#X)(was)\\b"}) {
      add(c, " \\1 \\2 ");
    }
    return r;
  }();
  return *rules;
}

// NLTKWordTokenizer().tokenize(sentence).
}  // namespace

std::vector<std::string> TreebankWordTokens(absl::string_view sentence) {
  std::string text(sentence);
  for (const auto& rule : TreebankRules()) {
    text = rule->re.SubWith(text, [&](const PyMatch& m) { return Expand(rule->with, m); });
  }
  text = " " + text + " ";
  for (const auto& rule : TreebankEndRules()) {
    text = rule->re.SubWith(text, [&](const PyMatch& m) { return Expand(rule->with, m); });
  }
  return SplitWhitespace(text);
}

// ICU sentence segments with content, line breaks read as spaces.
std::vector<std::string> IcuSentences(absl::string_view text) {
  std::string flat(text);
  for (char& c : flat) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  icu::UnicodeString u = icu::UnicodeString::fromUTF8(
      icu::StringPiece(flat.data(), static_cast<int32_t>(flat.size())));
  UErrorCode status = U_ZERO_ERROR;
  std::unique_ptr<icu::BreakIterator> it(icu::BreakIterator::createSentenceInstance(
      icu::Locale("en_US@ss=standard"), status));
  std::vector<std::string> sentences;
  if (U_FAILURE(status) || it == nullptr) return sentences;
  it->setText(u);
  int32_t start = it->first();
  for (int32_t end = it->next(); end != icu::BreakIterator::DONE;
       start = end, end = it->next()) {
    std::string piece;
    u.tempSubStringBetween(start, end).toUTF8String(piece);
    if (!Strip(piece).empty()) sentences.push_back(std::move(piece));
  }
  return sentences;
}

namespace {

// The sentences word_tokenize splits first: Punkt's, else ICU's.
std::vector<std::string> Sentences(absl::string_view text) {
  if (absl::StatusOr<const PunktTokenizer*> punkt = PunktTokenizer::English(); punkt.ok()) {
    return (*punkt)->Tokenize(text);
  }
  return IcuSentences(text);
}

}  // namespace

std::string DetectLanguage(absl::string_view text) {
  absl::StatusOr<const LangDetector*> detector = LangDetector::Default();
  // LoadIfeval refuses to run without langdetect's data; "" reads as
  // undetectable (followed) should a caller skip that check.
  return detector.ok() ? (*detector)->Detect(text) : "";
}

std::string SentenceSplitter() {
  return PunktTokenizer::English().ok() ? "nltk-punkt" : "icu";
}

int CountSentences(absl::string_view text) {
  if (absl::StatusOr<const PunktTokenizer*> punkt = PunktTokenizer::English(); punkt.ok()) {
    return static_cast<int>((*punkt)->Tokenize(text).size());
  }
  return CountSentencesIcu(text);
}

int CountSentencesIcu(absl::string_view text) {
  return static_cast<int>(IcuSentences(text).size());
}

int CountWords(absl::string_view text) {
  int count = 0;
  bool in_word = false;
  ForEachCodePoint(text, [&](UChar32 c) {
    bool word = c == '_' || u_isalpha(c) || u_isdigit(c) ||
                u_charType(c) == U_LETTER_NUMBER || u_charType(c) == U_OTHER_NUMBER;
    if (word && !in_word) ++count;
    in_word = word;
  });
  return count;
}

std::vector<std::string> WordTokens(absl::string_view text) {
  std::vector<std::string> tokens;
  for (const std::string& sentence : Sentences(text)) {
    for (std::string& t : TreebankWordTokens(sentence)) tokens.push_back(std::move(t));
  }
  return tokens;
}

bool IsUpper(absl::string_view text) {
  bool cased = false;
  bool ok = true;
  ForEachCodePoint(text, [&](UChar32 c) {
    if (u_hasBinaryProperty(c, UCHAR_LOWERCASE) || u_istitle(c)) ok = false;
    if (u_hasBinaryProperty(c, UCHAR_UPPERCASE)) cased = true;
  });
  return ok && cased;
}

bool IsLower(absl::string_view text) {
  bool cased = false;
  bool ok = true;
  ForEachCodePoint(text, [&](UChar32 c) {
    if (u_hasBinaryProperty(c, UCHAR_UPPERCASE) || u_istitle(c)) ok = false;
    if (u_hasBinaryProperty(c, UCHAR_LOWERCASE)) cased = true;
  });
  return ok && cased;
}

}  // namespace cohort::worker::eval
