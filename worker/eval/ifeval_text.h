// File: ifeval_text.h
//
// The language-dependent text primitives of the IFEval checkers:
//   DetectLanguage   langdetect itself, reproduced (langdetect.h), seed 0
//   CountSentences   NLTK's Punkt with its English model (punkt.h) when the
//                    model is installed, else ICU's sentence BreakIterator
//   CountWords       Python's \w+ run count (Unicode letters, numbers, _)
//   WordTokens       nltk.word_tokenize: the sentences (as CountSentences
//                    splits them), each through NLTK's NLTKWordTokenizer
//   IsUpper/IsLower  Python str.isupper()/islower() over Unicode properties
// Where the replacements can disagree with the reference is written down in
// docs/benches.md; the GPT-4 response file is the regression check.
#ifndef COHORT_WORKER_EVAL_IFEVAL_TEXT_H_
#define COHORT_WORKER_EVAL_IFEVAL_TEXT_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace cohort::worker::eval {

// langdetect.detect(text) (seed 0): "en", "zh-cn", ..., "unknown" when no
// language is likely enough, "" where langdetect raises (no n-gram it
// knows; IFEval then counts the instruction as followed).
std::string DetectLanguage(absl::string_view text);

// len(sent_tokenize(text)): NLTK's English Punkt when its model is found
// (PunktTokenizer::English), else CountSentencesIcu.
int CountSentences(absl::string_view text);

// ICU sentence segments with content, line breaks read as spaces: the
// stand-in where NLTK's Punkt model is not installed. They can differ:
// Punkt breaks after ". lowercase" and knows other abbreviations.
int CountSentencesIcu(absl::string_view text);

// Which of the two CountSentences uses here: "nltk-punkt" or "icu".
std::string SentenceSplitter();

// Python len(re.findall(r"\w+", text)) (NLTK RegexpTokenizer(r"\w+")).
int CountWords(absl::string_view text);

// nltk.word_tokenize(text): each sentence (Punkt's, else ICU's) through
// NLTK's improved Treebank tokenizer (NLTKWordTokenizer: quotes, punctuation,
// brackets, dashes, contractions, in NLTK's order, on Python's regexes).
std::vector<std::string> WordTokens(absl::string_view text);

// NLTKWordTokenizer().tokenize(sentence): one sentence, no sentence split.
std::vector<std::string> TreebankWordTokens(absl::string_view sentence);

// Python str.isupper() / str.islower() on UTF-8 text.
bool IsUpper(absl::string_view text);
bool IsLower(absl::string_view text);

}  // namespace cohort::worker::eval

#endif  // COHORT_WORKER_EVAL_IFEVAL_TEXT_H_
