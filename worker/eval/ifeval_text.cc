#include "worker/eval/ifeval_text.h"

#include <unicode/brkiter.h>
#include <unicode/locid.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

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

using RuleList = std::vector<std::unique_ptr<Rule>>;

// (pattern, replacement) pairs compiled once, applied in order.
const RuleList* CompileRules(std::initializer_list<std::pair<const char*, const char*>> pairs) {
  auto* rules = new RuleList();
  for (const auto& [pattern, with] : pairs) rules->push_back(std::make_unique<Rule>(pattern, with));
  return rules;
}

// NLTK's NLTKWordTokenizer (nltk.word_tokenize's per-sentence tokenizer),
// its substitutions in its order.
const RuleList& TreebankRules() {
  static const RuleList* rules = CompileRules({
      // STARTING_QUOTES
      {"([\u00ab\u201c\u2018\u201e]|[`]+)", " \\1 "},
      {"^\"", "``"},
      {"(``)", " \\1 "},
      {"([ \\(\\[{<])(\"|\'{2})", "\\1 `` "},
      {"(?i)(\')(?!re|ve|ll|m|t|s|d|n)(\\w)\\b", "\\1 \\2"},
      // PUNCTUATION
      {"([^\\.])(\\.)([\\]\\)}>\"\'\u00bb\u201d\u2019 ]*)\\s*$", "\\1 \\2 \\3 "},
      {"([:,])([^\\d])", " \\1 \\2"},
      {"([:,])$", " \\1 "},
      {"\\.{2,}", " \\g<0> "},
      {"[;@#$%&]", " \\g<0> "},
      {"([^\\.])(\\.)([\\]\\)}>\"\']*)\\s*$", "\\1 \\2\\3 "},
      {"[?!]", " \\g<0> "},
      {"([^'])' ", "\\1 ' "},
      {"[*]", " \\g<0> "},
      // PARENS_BRACKETS, DOUBLE_DASHES
      {"[\\]\\[\\(\\)\\{\\}\\<\\>]", " \\g<0> "},
      {"--", " -- "},
  });
  return *rules;
}

// Applied after the text is padded with a space on each side.
const RuleList& TreebankEndRules() {
  static const RuleList* rules = CompileRules({
      // ENDING_QUOTES
      {"([\u00bb\u201d\u2019])", " \\1 "},
      {"''", " '' "},
      {"\"", " '' "},
      {"([^' ])('[sS]|'[mM]|'[dD]|') ", "\\1 \\2 "},
      {"([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) ", "\\1 \\2 "},
      // CONTRACTIONS2, CONTRACTIONS3 (MacIntyre's)
      {"(?i)\\b(can)(?#X)(not)\\b", " \\1 \\2 "},
      {"(?i)\\b(d)(?#X)('ye)\\b", " \\1 \\2 "},
      {"(?i)\\b(gim)(?#X)(me)\\b", " \\1 \\2 "},
      {"(?i)\\b(gon)(?#X)(na)\\b", " \\1 \\2 "},
      {"(?i)\\b(got)(?#X)(ta)\\b", " \\1 \\2 "},
      {"(?i)\\b(lem)(?#X)(me)\\b", " \\1 \\2 "},
      {"(?i)\\b(more)(?#X)('n)\\b", " \\1 \\2 "},
      {"(?i)\\b(wan)(?#X)(na)(?=\\s)", " \\1 \\2 "},
      {"(?i) ('t)(?#X)(is)\\b", " \\1 \\2 "},
      {"(?i) ('t)(?#X)(was)\\b", " \\1 \\2 "},
  });
  return *rules;
}

}  // namespace

std::vector<std::string> TreebankWordTokens(absl::string_view sentence) {
  auto apply = [](const RuleList& rules, std::string text) {
    for (const auto& rule : rules) {
      text = rule->re.SubWith(text, [&](const PyMatch& m) { return Expand(rule->with, m); });
    }
    return text;
  };
  std::string text = apply(TreebankRules(), std::string(sentence));
  return SplitWhitespace(apply(TreebankEndRules(), " " + text + " "));
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
