// File: punkt.h
//
// NLTK's Punkt sentence tokenizer (Kiss & Strunk 2006) as NLTK 3.8/3.9 runs
// a trained model, for IFEval's sentence counts (Google's
// instruction_following_eval counts sentences with NLTK's English Punkt):
// the word segmentation regex, the first pass (sentence-end characters,
// ellipses, known abbreviations), the second pass (collocations, the
// orthographic heuristic, frequent sentence starters, initials and
// numbers), the candidate contexts around each ".", "?" and "!", and the
// realignment of closing quotes and brackets. Positions are code points, as
// in Python; the text is read as UTF-8 (an invalid byte is one U+FFFD).
//
// The trained parameters are data, read at run time in NLTK's punkt_tab
// layout (abbrev_types.txt, collocations.tab, sent_starters.txt,
// ortho_context.tab): $COHORT_PUNKT_DIR, else tokenizers/punkt_tab/english
// under each folder of $NLTK_DATA and NLTK's default search folders
// (~/nltk_data, /usr/share/nltk_data, /usr/local/share/nltk_data,
// /usr/lib/nltk_data, /usr/local/lib/nltk_data). Debian does not package
// them; `python3 -m nltk.downloader punkt_tab` fetches them.
//
// Thread safety: a PunktTokenizer is immutable after Load; any number of
// threads may tokenize with one at once.
#ifndef COHORT_WORKER_EVAL_PUNKT_H_
#define COHORT_WORKER_EVAL_PUNKT_H_

#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cohort::worker::eval {

struct PunktParameters {
  std::set<std::u32string> abbrev_types;
  std::set<std::pair<std::u32string, std::u32string>> collocations;
  std::set<std::u32string> sent_starters;
  std::unordered_map<std::u32string, int> ortho_context;
};

class PunktTokenizer {
 public:
  explicit PunktTokenizer(PunktParameters params) : params_(std::move(params)) {}

  // The four punkt_tab files of `dir`; an error names the file and line.
  static absl::StatusOr<PunktTokenizer> Load(const std::string& dir);

  // The English model found as the header says, loaded once per process;
  // an error says where it looked.
  static absl::StatusOr<const PunktTokenizer*> English();

  // tokenize(text): the sentences, realigned (NLTK's default).
  std::vector<std::string> Tokenize(absl::string_view text) const;

 private:
  struct Token;
  std::vector<Token> WordTokens(const std::u32string& text) const;
  void FirstPass(Token* t) const;
  void SecondPass(Token* t1, const Token* t2) const;
  int OrthoHeuristic(const Token& t) const;  // 1 yes, 0 no, -1 unknown
  bool ContainsSentbreak(const std::u32string& context) const;
  std::vector<std::pair<size_t, size_t>> Slices(const std::u32string& text) const;

  PunktParameters params_;
};

}  // namespace cohort::worker::eval

#endif  // COHORT_WORKER_EVAL_PUNKT_H_
