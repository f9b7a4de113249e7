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

bool IsPunctuationPiece(UChar32 c) {
  return u_ispunct(c) || c == '`' || c == '<' || c == '>';
}

// Appends `piece` minus an English contraction suffix, then the suffix.
void SplitContraction(const std::string& piece, std::vector<std::string>* out) {
  static const RE2 kContraction(
      "(?i)^(.+?)(n't|'s|'re|'ve|'ll|'d|'m|\xE2\x80\x99s|n\xE2\x80\x99t)$");
  std::string head;
  std::string tail;
  if (RE2::FullMatch(piece, kContraction, &head, &tail)) {
    out->push_back(head);
    out->push_back(tail);
  } else {
    out->push_back(piece);
  }
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
  std::string flat(text);
  for (char& c : flat) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  icu::UnicodeString u = icu::UnicodeString::fromUTF8(
      icu::StringPiece(flat.data(), static_cast<int32_t>(flat.size())));
  UErrorCode status = U_ZERO_ERROR;
  std::unique_ptr<icu::BreakIterator> it(icu::BreakIterator::createSentenceInstance(
      icu::Locale("en_US@ss=standard"), status));
  if (U_FAILURE(status) || it == nullptr) return 0;
  it->setText(u);
  int count = 0;
  int32_t start = it->first();
  for (int32_t end = it->next(); end != icu::BreakIterator::DONE;
       start = end, end = it->next()) {
    std::string piece;
    u.tempSubStringBetween(start, end).toUTF8String(piece);
    if (!Strip(piece).empty()) ++count;
  }
  return count;
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
  for (const std::string& piece : SplitWhitespace(text)) {
    // Peel punctuation off both ends; the peeled marks are tokens of their
    // own in Treebank, but they carry no case, so they are dropped here.
    icu::UnicodeString u = icu::UnicodeString::fromUTF8(piece);
    int32_t begin = 0;
    int32_t end = u.length();
    while (begin < end && IsPunctuationPiece(u.char32At(begin))) begin = u.moveIndex32(begin, 1);
    while (end > begin && IsPunctuationPiece(u.char32At(u.moveIndex32(end, -1)))) {
      end = u.moveIndex32(end, -1);
    }
    if (begin >= end) continue;
    std::string core;
    u.tempSubStringBetween(begin, end).toUTF8String(core);
    SplitContraction(core, &tokens);
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
