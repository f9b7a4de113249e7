#include "worker/eval/langdetect.h"

#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/atomic_file.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "worker/eval/py_random.h"
#include "worker/eval/py_regex.h"

namespace cohort::worker::eval {
namespace {

namespace fs = std::filesystem;

constexpr char kDebianPackageDir[] = "/usr/lib/python3/dist-packages/langdetect";

// Detector's constants (langdetect/detector.py).
constexpr double kAlpha = 0.5;
constexpr double kAlphaWidth = 0.05;
constexpr int kIterationLimit = 1000;
constexpr double kProbThreshold = 0.1;
constexpr double kConvThreshold = 0.99999;
constexpr double kBaseFreq = 10000;
constexpr int kTrials = 7;
constexpr size_t kMaxTextLength = 10000;

std::u32string Decode(absl::string_view utf8) {
  icu::UnicodeString u = icu::UnicodeString::fromUTF8(
      icu::StringPiece(utf8.data(), static_cast<int32_t>(utf8.size())));
  std::u32string out;
  for (int32_t i = 0; i < u.length(); i = u.moveIndex32(i, 1)) out += char32_t(u.char32At(i));
  return out;
}

// A messages.properties value: \uXXXX escapes decoded (Python's
// unicode_escape, as langdetect reads the file).
std::u32string Unescape(absl::string_view value) {
  std::u32string out;
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\\' && i + 5 < value.size() && value[i + 1] == 'u') {
      out += static_cast<char32_t>(std::strtoul(std::string(value.substr(i + 2, 4)).c_str(),
                                                nullptr, 16));
      i += 5;
    } else if (value[i] == '\\' && i + 1 < value.size()) {
      out += static_cast<char32_t>(static_cast<unsigned char>(value[++i]));
    } else {
      out += static_cast<char32_t>(static_cast<unsigned char>(value[i]));
    }
  }
  return out;
}

bool InRange(char32_t c, char32_t lo, char32_t hi) { return c >= lo && c <= hi; }

bool IsUpper(char32_t c) { return u_isUUppercase(static_cast<UChar32>(c)); }

}  // namespace

absl::StatusOr<std::unique_ptr<LangDetector>> LangDetector::Load(const std::string& dir) {
  std::unique_ptr<LangDetector> d(new LangDetector());
  const std::string messages_path = dir + "/utils/messages.properties";
  absl::StatusOr<std::string> messages = ReadFileToString(messages_path);
  if (!messages.ok()) {
    return absl::NotFoundError(absl::StrCat(
        "langdetect's data is not at ", dir, " (", messages_path,
        ": ", messages.status().message(),
        "); install Debian's python3-langdetect or set COHORT_LANGDETECT_DIR"));
  }
  std::map<std::string, std::u32string> values;
  for (absl::string_view line : absl::StrSplit(*messages, '\n')) {
    size_t eq = line.find('=');
    if (eq == absl::string_view::npos) continue;
    std::string key(absl::StripAsciiWhitespace(line.substr(0, eq)));
    std::u32string value = Unescape(absl::StripAsciiWhitespace(line.substr(eq + 1)));
    if (absl::StartsWith(key, "NGram.KANJI_")) {
      // ngram.py's CJK_CLASS lists the classes in the file's order; each
      // character maps to its class's first, a later class winning.
      for (char32_t c : value) d->cjk_map_[c] = value.empty() ? c : value[0];
    }
    values[key] = std::move(value);
  }
  d->latin1_excluded_ = values["NGram.LATIN1_EXCLUDE"];
  d->vi_letters_ = values["TO_NORMALIZE_VI_CHARS"];
  d->vi_marks_ = values["DMARK_CLASS"];
  for (const char* mark : {"0300", "0301", "0303", "0309", "0323"}) {
    d->vi_folded_.push_back(values[absl::StrCat("NORMALIZED_VI_CHARS_", mark)]);
  }
  if (d->vi_letters_.empty() || d->vi_marks_.size() != d->vi_folded_.size()) {
    return absl::InvalidArgumentError(messages_path + ": not langdetect's messages file");
  }
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir + "/profiles", ec)) {
    std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.' || !entry.is_regular_file()) continue;
    files.push_back(entry.path().string());
  }
  if (ec || files.size() < 2) {
    return absl::NotFoundError(absl::StrCat("no langdetect profiles in ", dir, "/profiles"));
  }
  std::sort(files.begin(), files.end());
  for (const std::string& file : files) {
    COHORT_ASSIGN_OR_RETURN(std::string text, ReadFileToString(file));
    nlohmann::json p = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!p.is_object() || !p.contains("freq") || !p["freq"].is_object() ||
        !p.contains("n_words") || !p["n_words"].is_array() || p["n_words"].size() != 3 ||
        !p.contains("name") || !p["name"].is_string()) {
      return absl::InvalidArgumentError(file + ": not a langdetect profile");
    }
    const uint16_t index = static_cast<uint16_t>(d->languages_.size());
    d->languages_.push_back(p["name"].get<std::string>());
    for (const auto& [gram, count] : p["freq"].items()) {
      std::u32string points = Decode(gram);
      const size_t length = points.size();
      if (length < 1 || length > 3 || !count.is_number()) continue;
      const nlohmann::json& n = p["n_words"][length - 1];
      if (!n.is_number() || n.get<double>() == 0) continue;
      d->grams_[points].emplace_back(index, 1.0 * count.get<double>() / n.get<double>());
    }
  }
  return d;
}

absl::StatusOr<const LangDetector*> LangDetector::Default() {
  static const absl::StatusOr<std::unique_ptr<LangDetector>>* loaded = [] {
    const char* env = std::getenv("COHORT_LANGDETECT_DIR");
    return new absl::StatusOr<std::unique_ptr<LangDetector>>(
        Load(env != nullptr && *env != '\0' ? env : kDebianPackageDir));
  }();
  if (!loaded->ok()) return loaded->status();
  return loaded->value().get();
}

// NGram.normalize: one character folded by its Unicode block.
char32_t LangDetector::FoldChar(char32_t ch) const {
  if (ch <= 0x7F) {
    return (ch < 'A' || (ch > 'Z' && ch < 'a') || ch > 'z') ? U' ' : ch;
  }
  if (InRange(ch, 0x80, 0xFF)) {
    return latin1_excluded_.find(ch) != std::u32string::npos ? U' ' : ch;
  }
  if (InRange(ch, 0x180, 0x24F)) {  // Romanian comma-below to cedilla
    if (ch == 0x219) return 0x15F;
    if (ch == 0x21B) return 0x163;
    return ch;
  }
  if (InRange(ch, 0x2000, 0x206F)) return U' ';
  if (InRange(ch, 0x600, 0x6FF)) return ch == 0x6CC ? 0x64A : ch;
  if (InRange(ch, 0x1E00, 0x1EFF)) return ch >= 0x1EA0 ? 0x1EC3 : ch;
  if (InRange(ch, 0x3040, 0x309F)) return 0x3042;
  if (InRange(ch, 0x30A0, 0x30FF)) return 0x30A2;
  if (InRange(ch, 0x3100, 0x312F) || InRange(ch, 0x31A0, 0x31BF)) return 0x3105;
  if (InRange(ch, 0x4E00, 0x9FFF)) {
    auto it = cjk_map_.find(ch);
    return it == cjk_map_.end() ? ch : it->second;
  }
  if (InRange(ch, 0xAC00, 0xD7AF)) return 0xAC00;
  return ch;
}

// Detector.append followed by cleaning_text.
std::vector<char32_t> LangDetector::Normalize(absl::string_view input) const {
  static const PyRegex kUrl("https?://[-_.?&~;+=/#0-9A-Za-z]{1,2076}");
  static const PyRegex kMail("[-_.0-9A-Za-z]{1,64}@[-_0-9A-Za-z]{1,255}[-_.0-9A-Za-z]{1,255}");
  std::u32string text = Decode(kMail.Sub(kUrl.Sub(input, " "), " "));
  // normalize_vi: a vowel followed by a combining mark becomes one letter.
  std::u32string folded;
  for (size_t i = 0; i < text.size(); ++i) {
    size_t letter = vi_letters_.find(text[i]);
    size_t mark = i + 1 < text.size() ? vi_marks_.find(text[i + 1]) : std::u32string::npos;
    if (letter != std::u32string::npos && mark != std::u32string::npos &&
        letter < vi_folded_[mark].size()) {
      folded += vi_folded_[mark][letter];
      ++i;
    } else {
      folded += text[i];
    }
  }
  std::vector<char32_t> out;
  char32_t pre = 0;
  for (size_t i = 0; i < std::min(folded.size(), kMaxTextLength); ++i) {
    char32_t ch = folded[i];
    if (ch != U' ' || pre != U' ') out.push_back(ch);
    pre = ch;
  }
  // cleaning_text. langdetect's check for the "Latin Extended Additional"
  // block compares a number with a string and is always true, so every
  // character from U+0300 up counts as non-Latin.
  size_t latin = 0, non_latin = 0;
  for (char32_t ch : out) {
    if (ch >= U'A' && ch <= U'z') {
      ++latin;
    } else if (ch >= 0x300) {
      ++non_latin;
    }
  }
  if (latin * 2 < non_latin) {
    out.erase(std::remove_if(out.begin(), out.end(),
                             [](char32_t ch) { return ch >= U'A' && ch <= U'z'; }),
              out.end());
  }
  return out;
}

// Detector._extract_ngrams: the 1- to 3-grams that some profile has.
std::vector<const std::vector<std::pair<uint16_t, double>>*> LangDetector::NGrams(
    const std::vector<char32_t>& text) const {
  std::vector<const std::vector<std::pair<uint16_t, double>>*> out;
  // NGram.grams: the last three characters, starting as one space.
  char32_t grams[3] = {U' ', 0, 0};
  size_t size = 1;
  bool capital_word = false;
  for (char32_t raw : text) {
    char32_t ch = FoldChar(raw);
    char32_t last = grams[size - 1];
    if (last == U' ') {
      grams[0] = U' ';
      size = 1;
      capital_word = false;
      if (ch == U' ') continue;
    } else if (size >= 3) {
      grams[0] = grams[1];
      grams[1] = grams[2];
      size = 2;
    }
    grams[size++] = ch;
    if (IsUpper(ch)) {
      if (IsUpper(last)) capital_word = true;
    } else {
      capital_word = false;
    }
    if (capital_word) continue;
    for (size_t n = 1; n <= 3 && n <= size; ++n) {
      std::u32string w(grams + size - n, grams + size);
      if (w == U" ") continue;
      auto it = grams_.find(w);
      if (it != grams_.end()) out.push_back(&it->second);
    }
  }
  return out;
}

std::string LangDetector::Detect(absl::string_view text, uint64_t seed) const {
  const auto ngrams = NGrams(Normalize(text));
  if (ngrams.empty()) return "";  // LangDetectException: no features in text
  const size_t langs = languages_.size();
  std::vector<double> total(langs, 0.0);
  PyRandom rng(seed);
  std::vector<double> word(langs);
  for (int t = 0; t < kTrials; ++t) {
    std::vector<double> prob(langs, 1.0 / langs);
    const double alpha = kAlpha + rng.Gauss() * kAlphaWidth;
    const double weight = alpha / kBaseFreq;
    for (int i = 0;; ++i) {
      const auto& probs = *ngrams[rng.RandBelow(ngrams.size())];
      std::fill(word.begin(), word.end(), 0.0);
      for (const auto& [lang, p] : probs) word[lang] = p;
      for (size_t j = 0; j < langs; ++j) prob[j] *= weight + word[j];
      if (i % 5 == 0) {
        double sum = 0, max = 0;
        for (double p : prob) sum += p;  // Python's sum(): left to right
        for (double& p : prob) {
          p /= sum;
          max = std::max(max, p);
        }
        if (max > kConvThreshold || i >= kIterationLimit) break;
      }
    }
    for (size_t j = 0; j < langs; ++j) total[j] += prob[j] / kTrials;
  }
  // _sort_probability: over the threshold, most probable first (stable).
  int best = -1;
  for (size_t j = 0; j < langs; ++j) {
    if (total[j] > kProbThreshold && (best < 0 || total[j] > total[best])) best = static_cast<int>(j);
  }
  return best < 0 ? "unknown" : languages_[best];
}

}  // namespace cohort::worker::eval
