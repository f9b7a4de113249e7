// File: langdetect.h
//
// The language identifier Google's IFEval code calls (`langdetect.detect`,
// Python langdetect 1.0.9, a port of Shuyo's language-detection), reproduced
// so IFEval's language checks give the reference's verdicts: the same
// normalisation of the text (URLs and e-mail addresses blanked, Vietnamese
// diacritics folded, Latin letters dropped from mostly non-Latin text), the
// same character n-grams (1-3, per-block character folding, words written
// in capitals skipped), the same naive-Bayes trials (7 trials, alpha 0.5
// jittered by gauss * 0.05, an n-gram drawn at random per step, converged at
// 0.99999 or 1000 steps) driven by Python's Mersenne Twister, and the same
// answer: the most probable language over 0.1, else "unknown".
//
// The profiles and the character tables are langdetect's own data (Apache
// 2.0), read from the installed package: Debian's python3-langdetect
// (/usr/lib/python3/dist-packages/langdetect), or $COHORT_LANGDETECT_DIR.
//
// Seeding: langdetect draws from an unseeded generator unless
// DetectorFactory.seed is set, so the reference's verdict on a short,
// ambiguous text can change from run to run. cohort uses seed 0 (langdetect's
// documented way to make it deterministic); LangdetectTest compares with
// `DetectorFactory.seed = 0` runs of the Python package.
//
// Thread safety: a loaded LangDetector is immutable; Detect may be called
// from any number of threads.
#ifndef COHORT_WORKER_EVAL_LANGDETECT_H_
#define COHORT_WORKER_EVAL_LANGDETECT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cohort::worker::eval {

class LangDetector {
 public:
  // Loads `package_dir`/profiles/* and `package_dir`/utils/messages.properties.
  // kNotFound naming the folder when they are missing, kInvalidArgument
  // naming the file when one does not parse.
  static absl::StatusOr<std::unique_ptr<LangDetector>> Load(const std::string& package_dir);

  // The detector of $COHORT_LANGDETECT_DIR, else of Debian's
  // python3-langdetect, loaded once per process.
  static absl::StatusOr<const LangDetector*> Default();

  // langdetect.detect(text) with DetectorFactory.seed = `seed`: a code such
  // as "en" or "zh-cn", "unknown" when no language reaches 0.1, and "" where
  // langdetect raises (no n-gram of the text is in any profile).
  std::string Detect(absl::string_view text, uint64_t seed = 0) const;

  const std::vector<std::string>& languages() const { return languages_; }

 private:
  LangDetector() = default;
  std::vector<char32_t> Normalize(absl::string_view text) const;
  std::vector<const std::vector<std::pair<uint16_t, double>>*> NGrams(
      const std::vector<char32_t>& text) const;
  char32_t FoldChar(char32_t ch) const;

  std::vector<std::string> languages_;  // profile order (file names sorted)
  // n-gram (code points) -> (language index, probability) for the languages
  // that have it; every other language has probability 0.
  std::unordered_map<std::u32string, std::vector<std::pair<uint16_t, double>>> grams_;
  std::u32string latin1_excluded_;
  std::unordered_map<char32_t, char32_t> cjk_map_;
  std::u32string vi_letters_;              // TO_NORMALIZE_VI_CHARS
  std::u32string vi_marks_;                // DMARK_CLASS
  std::vector<std::u32string> vi_folded_;  // NORMALIZED_VI_CHARS_<mark>
};

}  // namespace cohort::worker::eval

#endif  // COHORT_WORKER_EVAL_LANGDETECT_H_
