#include "worker/eval/ifeval_checkers.h"

#include <cstring>
#include <map>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "re2/re2.h"
#include "worker/eval/ifeval_text.h"
#include "worker/eval/text_util.h"

namespace cohort::worker::eval {
namespace {

// Typed, never-throwing access to one instruction's kwargs.
class Args {
 public:
  explicit Args(const nlohmann::json& kwargs) : kwargs_(kwargs) {}
  const nlohmann::json* Get(const std::string& key) const {
    if (!kwargs_.is_object()) return nullptr;
    auto it = kwargs_.find(key);
    return it == kwargs_.end() || it->is_null() ? nullptr : &*it;
  }
  long long Int(const std::string& key) const {
    const nlohmann::json* v = Get(key);
    return v != nullptr && v->is_number_integer() ? v->get<long long>() : 0;
  }
  std::string Str(const std::string& key) const {
    const nlohmann::json* v = Get(key);
    return v != nullptr && v->is_string() ? v->get<std::string>() : "";
  }
  std::vector<std::string> List(const std::string& key) const {
    std::vector<std::string> out;
    const nlohmann::json* v = Get(key);
    if (v == nullptr || !v->is_array()) return out;
    for (const nlohmann::json& s : *v) {
      if (s.is_string()) out.push_back(s.get<std::string>());
    }
    return out;
  }
  // "less than" -> count < n; "at least" -> count >= n.
  bool Compare(const std::string& relation_key, long long count, long long n) const {
    return Str(relation_key) == "less than" ? count < n : count >= n;
  }

 private:
  const nlohmann::json& kwargs_;
};

using CheckFn = bool (*)(const Args&, absl::string_view);

enum class Kind { kInt, kStr, kList, kRelation };

struct Instruction {
  std::vector<std::pair<std::string, Kind>> required;
  CheckFn check;
};

// A user-supplied pattern (keywords are raw regexes upstream); a pattern
// RE2 cannot compile is matched literally instead.
std::unique_ptr<RE2> UserPattern(const std::string& pattern, bool ignore_case) {
  auto re = std::make_unique<RE2>(pattern, QuietOptions(ignore_case));
  if (!re->ok()) re = std::make_unique<RE2>(RE2::QuoteMeta(pattern), QuietOptions(ignore_case));
  return re;
}

size_t CountMatches(const RE2& re, absl::string_view text) { return FindAll(re, text).size(); }

bool KeywordsExist(const Args& a, absl::string_view r) {
  for (const std::string& k : a.List("keywords")) {
    if (CountMatches(*UserPattern(k, true), r) == 0) return false;
  }
  return true;
}

bool KeywordFrequency(const Args& a, absl::string_view r) {
  auto re = UserPattern(a.Str("keyword"), true);
  return a.Compare("relation", static_cast<long long>(CountMatches(*re, r)), a.Int("frequency"));
}

bool ForbiddenWords(const Args& a, absl::string_view r) {
  for (const std::string& w : a.List("forbidden_words")) {
    if (CountMatches(*UserPattern("\\b" + w + "\\b", true), r) > 0) return false;
  }
  return true;
}

bool LetterFrequency(const Args& a, absl::string_view r) {
  std::string letter = AsciiLower(a.Str("letter"));
  if (letter.size() != 1) return false;
  long long count = 0;
  for (char c : AsciiLower(r)) count += c == letter[0];
  return a.Compare("let_relation", count, a.Int("let_frequency"));
}

bool ResponseLanguage(const Args& a, absl::string_view r) {
  std::string lang = DetectLanguage(r);
  return lang.empty() || lang == a.Str("language");  // undetectable: followed
}

bool NumberSentences(const Args& a, absl::string_view r) {
  return a.Compare("relation", CountSentences(r), a.Int("num_sentences"));
}

bool NumberParagraphs(const Args& a, absl::string_view r) {
  static const RE2 kSplit("\\s?\\*\\*\\*\\s?", QuietOptions());
  std::vector<std::string> parts = RegexSplit(kSplit, r);
  long long count = static_cast<long long>(parts.size());
  for (size_t i = 0; i < parts.size(); ++i) {
    if (!Strip(parts[i]).empty()) continue;
    if (i == 0 || i + 1 == parts.size()) {
      --count;
    } else {
      return false;
    }
  }
  return count == a.Int("num_paragraphs");
}

bool NumberWords(const Args& a, absl::string_view r) {
  return a.Compare("relation", CountWords(r), a.Int("num_words"));
}

bool NthParagraphFirstWord(const Args& a, absl::string_view r) {
  std::vector<std::string> parts = SplitOn(r, "\n\n");
  long long count = static_cast<long long>(parts.size());
  for (const std::string& p : parts) count -= Strip(p).empty();
  long long nth = a.Int("nth_paragraph");
  if (nth < 1 || nth > count || nth > static_cast<long long>(parts.size())) return false;
  std::string paragraph = Strip(parts[nth - 1]);
  std::vector<std::string> words = SplitWhitespace(paragraph);
  if (words.empty()) return false;
  std::string word = LStrip(words[0]);
  size_t skip = word.find_first_not_of('\'');
  word = skip == std::string::npos ? "" : word.substr(skip);
  skip = word.find_first_not_of('"');
  word = skip == std::string::npos ? "" : word.substr(skip);
  size_t cut = word.find_first_of(".,?!'\"");
  std::string first = AsciiLower(word.substr(0, cut));
  return count == a.Int("num_paragraphs") && first == AsciiLower(a.Str("first_word"));
}

bool Placeholders(const Args& a, absl::string_view r) {
  static const RE2 kPlaceholder("\\[.*?\\]", QuietOptions());
  return static_cast<long long>(CountMatches(kPlaceholder, r)) >= a.Int("num_placeholders");
}

bool Postscript(const Args& a, absl::string_view r) {
  std::string marker = a.Str("postscript_marker");
  std::string pattern = marker == "P.P.S"  ? "(?m)\\s*p\\.\\s?p\\.\\s?s.*$"
                        : marker == "P.S." ? "(?m)\\s*p\\.\\s?s\\..*$"
                                           : "(?m)\\s*" + AsciiLower(marker) + ".*$";
  return CountMatches(*UserPattern(pattern, false), AsciiLower(r)) > 0;
}

bool BulletLists(const Args& a, absl::string_view r) {
  static const RE2 kStar("(?m)^\\s*\\*[^\\*].*$", QuietOptions());
  static const RE2 kDash("(?m)^\\s*-.*$", QuietOptions());
  long long n = static_cast<long long>(CountMatches(kStar, r) + CountMatches(kDash, r));
  return n == a.Int("num_bullets");
}

bool ConstrainedResponse(const Args&, absl::string_view r) {
  std::string s = Strip(r);
  for (const char* option : {"My answer is yes.", "My answer is no.", "My answer is maybe."}) {
    if (absl::StrContains(s, option)) return true;
  }
  return false;
}

bool Highlights(const Args& a, absl::string_view r) {
  static const RE2 kSingle("\\*[^\\n\\*]*\\*", QuietOptions());
  static const RE2 kDouble("\\*\\*[^\\n\\*]*\\*\\*", QuietOptions());
  long long n = 0;
  for (const RegexMatch& m : FindAll(kSingle, r)) {
    n += !Strip(StripChars(r.substr(m.begin, m.end - m.begin), "*")).empty();
  }
  for (const RegexMatch& m : FindAll(kDouble, r)) {
    absl::string_view h = r.substr(m.begin + 2, m.end - m.begin - 4);
    n += !Strip(h).empty();
  }
  return n >= a.Int("num_highlights");
}

bool MultipleSections(const Args& a, absl::string_view r) {
  auto re = UserPattern("\\s?" + a.Str("section_spliter") + "\\s?\\d+\\s?", false);
  return static_cast<long long>(RegexSplit(*re, r).size()) - 1 >= a.Int("num_sections");
}

bool JsonFormat(const Args&, absl::string_view r) {
  std::string s = Strip(r);
  for (const char* prefix : {"```json", "```Json", "```JSON", "```"}) {
    if (absl::StartsWith(s, prefix)) s = s.substr(strlen(prefix));
  }
  if (absl::EndsWith(s, "```")) s.resize(s.size() - 3);
  s = Strip(s);
  return !nlohmann::json::parse(s, nullptr, false).is_discarded();
}

bool Title(const Args&, absl::string_view r) {
  static const RE2 kTitle("<<[^\\n]+>>", QuietOptions());
  for (const RegexMatch& m : FindAll(kTitle, r)) {
    std::string t(r.substr(m.begin, m.end - m.begin));
    size_t b = t.find_first_not_of('<');
    size_t e = t.find_last_not_of('>');
    if (b != std::string::npos && e != std::string::npos && e >= b &&
        !Strip(t.substr(b, e - b + 1)).empty()) {
      return true;
    }
  }
  return false;
}

bool TwoResponses(const Args&, absl::string_view r) {
  std::vector<std::string> parts = SplitOn(r, "******");
  std::vector<std::string> valid;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (Strip(parts[i]).empty()) {
      if (i != 0 && i + 1 != parts.size()) return false;
    } else {
      valid.push_back(parts[i]);
    }
  }
  return valid.size() == 2 && Strip(valid[0]) != Strip(valid[1]);
}

bool RepeatPrompt(const Args& a, absl::string_view r) {
  return absl::StartsWith(AsciiLower(Strip(r)), AsciiLower(Strip(a.Str("prompt_to_repeat"))));
}

bool EndChecker(const Args& a, absl::string_view r) {
  std::string s = AsciiLower(StripChars(Strip(r), "\""));
  return absl::EndsWith(s, AsciiLower(Strip(a.Str("end_phrase"))));
}

bool Quotation(const Args&, absl::string_view r) {
  std::string s = Strip(r);
  return s.size() > 1 && s.front() == '"' && s.back() == '"';
}

bool CapitalWordFrequency(const Args& a, absl::string_view r) {
  long long n = 0;
  for (const std::string& w : WordTokens(r)) n += IsUpper(w);
  return a.Compare("capital_relation", n, a.Int("capital_frequency"));
}

// langdetect runs only when the case test passed ("and" short-circuits).
bool EnglishCapital(const Args&, absl::string_view r) {
  if (!IsUpper(r)) return false;
  std::string lang = DetectLanguage(r);
  return lang.empty() || lang == "en";
}

bool EnglishLowercase(const Args&, absl::string_view r) {
  if (!IsLower(r)) return false;
  std::string lang = DetectLanguage(r);
  return lang.empty() || lang == "en";
}

bool NoComma(const Args&, absl::string_view r) { return r.find(',') == absl::string_view::npos; }

const std::map<std::string, Instruction>& Registry() {
  static const auto* registry = new std::map<std::string, Instruction>{
      {"keywords:existence", {{{"keywords", Kind::kList}}, KeywordsExist}},
      {"keywords:frequency", {{{"keyword", Kind::kStr}, {"frequency", Kind::kInt}, {"relation", Kind::kRelation}}, KeywordFrequency}},
      {"keywords:forbidden_words", {{{"forbidden_words", Kind::kList}}, ForbiddenWords}},
      {"keywords:letter_frequency", {{{"letter", Kind::kStr}, {"let_frequency", Kind::kInt}, {"let_relation", Kind::kRelation}}, LetterFrequency}},
      {"language:response_language", {{{"language", Kind::kStr}}, ResponseLanguage}},
      {"length_constraints:number_sentences", {{{"num_sentences", Kind::kInt}, {"relation", Kind::kRelation}}, NumberSentences}},
      {"length_constraints:number_paragraphs", {{{"num_paragraphs", Kind::kInt}}, NumberParagraphs}},
      {"length_constraints:number_words", {{{"num_words", Kind::kInt}, {"relation", Kind::kRelation}}, NumberWords}},
      {"length_constraints:nth_paragraph_first_word", {{{"num_paragraphs", Kind::kInt}, {"nth_paragraph", Kind::kInt}, {"first_word", Kind::kStr}}, NthParagraphFirstWord}},
      {"detectable_content:number_placeholders", {{{"num_placeholders", Kind::kInt}}, Placeholders}},
      {"detectable_content:postscript", {{{"postscript_marker", Kind::kStr}}, Postscript}},
      {"detectable_format:number_bullet_lists", {{{"num_bullets", Kind::kInt}}, BulletLists}},
      {"detectable_format:constrained_response", {{}, ConstrainedResponse}},
      {"detectable_format:number_highlighted_sections", {{{"num_highlights", Kind::kInt}}, Highlights}},
      {"detectable_format:multiple_sections", {{{"section_spliter", Kind::kStr}, {"num_sections", Kind::kInt}}, MultipleSections}},
      {"detectable_format:json_format", {{}, JsonFormat}},
      {"detectable_format:title", {{}, Title}},
      {"combination:two_responses", {{}, TwoResponses}},
      {"combination:repeat_prompt", {{{"prompt_to_repeat", Kind::kStr}}, RepeatPrompt}},
      {"startend:end_checker", {{{"end_phrase", Kind::kStr}}, EndChecker}},
      {"startend:quotation", {{}, Quotation}},
      {"change_case:capital_word_frequency", {{{"capital_frequency", Kind::kInt}, {"capital_relation", Kind::kRelation}}, CapitalWordFrequency}},
      {"change_case:english_capital", {{}, EnglishCapital}},
      {"change_case:english_lowercase", {{}, EnglishLowercase}},
      {"punctuation:no_comma", {{}, NoComma}},
  };
  return *registry;
}

bool HasKind(const Args& args, const std::string& key, Kind kind) {
  const nlohmann::json* v = args.Get(key);
  if (v == nullptr) return false;
  switch (kind) {
    case Kind::kInt: return v->is_number_integer();
    case Kind::kStr: return v->is_string();
    case Kind::kList: return v->is_array();
    case Kind::kRelation:
      return v->is_string() && (*v == "less than" || *v == "at least");
  }
  return false;
}

}  // namespace

const std::vector<std::string>& IfevalInstructionIds() {
  static const auto* ids = [] {
    auto* out = new std::vector<std::string>;
    for (const auto& [id, unused] : Registry()) out->push_back(id);
    return out;
  }();
  return *ids;
}

absl::Status ValidateIfevalInstruction(const std::string& id,
                                       const nlohmann::json& kwargs) {
  auto it = Registry().find(id);
  if (it == Registry().end()) {
    return absl::InvalidArgumentError(absl::StrCat("unknown instruction id '", id, "'"));
  }
  Args args(kwargs);
  for (const auto& [key, kind] : it->second.required) {
    if (!HasKind(args, key, kind)) {
      return absl::InvalidArgumentError(
          absl::StrCat("instruction '", id, "': kwarg '", key, "' missing or invalid"));
    }
  }
  return absl::OkStatus();
}

bool FollowsIfevalInstruction(const std::string& id, const nlohmann::json& kwargs,
                              absl::string_view response) {
  auto it = Registry().find(id);
  if (it == Registry().end() || !ValidateIfevalInstruction(id, kwargs).ok()) return false;
  return it->second.check(Args(kwargs), response);
}

}  // namespace cohort::worker::eval
