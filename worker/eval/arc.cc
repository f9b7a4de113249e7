#include "worker/eval/arc.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "worker/eval/jsonl.h"
#include "worker/eval/py_regex.h"
#include "worker/eval/text_util.h"

namespace cohort::worker::eval {
namespace {

// The 22 questions with numeric labels use 1-4 for A-D.
std::string NormalizeKey(const std::string& key) {
  if (key.size() == 1 && key[0] >= '1' && key[0] <= '9') {
    return std::string(1, static_cast<char>('A' + (key[0] - '1')));
  }
  return absl::AsciiStrToUpper(key);
}

absl::StatusOr<Problem> ParseArcRow(const JsonLine& row, const std::string& path,
                                    int index, absl::string_view newline) {
  const nlohmann::json& v = row.value;
  auto where = [&](const char* what) {
    return absl::InvalidArgumentError(absl::StrCat(path, ":", row.line, ": ", what));
  };
  COHORT_ASSIGN_OR_RETURN(std::string id, GetString(row, "id", path));
  COHORT_ASSIGN_OR_RETURN(std::string key, GetString(row, "answerKey", path));
  auto q = v.find("question");
  if (q == v.end() || !q->is_object()) return where("missing object 'question'");
  auto stem = q->find("stem");
  auto choices = q->find("choices");
  if (stem == q->end() || !stem->is_string() || choices == q->end() ||
      !choices->is_array() || choices->size() < 2) {
    return where("'question' needs a string 'stem' and a 'choices' array");
  }
  std::vector<std::string> texts;
  for (const nlohmann::json& c : *choices) {
    auto text = c.find("text");
    if (!c.is_object() || text == c.end() || !text->is_string()) {
      return where("each choice needs a string 'text'");
    }
    texts.push_back(text->get<std::string>());
  }
  Problem p;
  p.id = id;
  p.index = index;
  p.prompt = BuildArcPrompt(stem->get<std::string>(), texts, newline);
  p.gold = NormalizeKey(key);
  p.meta["n_choices"] = texts.size();
  return p;
}

}  // namespace

absl::StatusOr<std::vector<Problem>> LoadArc(const std::string& path,
                                             const BenchSettings& settings) {
  COHORT_RETURN_IF_ERROR(CheckId("prompt_template", settings.prompt_template,
                                 {"arc_chat_v1", "arc_chat_omk_v2"}));
  // omk's task YAML writes its line breaks inside a single-quoted YAML
  // string, where "\n" stays a backslash and an n: the model was sent those
  // two characters (lm-eval 0.4.11's logged prompts show them).
  const absl::string_view newline =
      settings.prompt_template == "arc_chat_omk_v2" ? "\\n" : "\n";
  COHORT_RETURN_IF_ERROR(CheckId("extractor", settings.extractor, {"arc_chat_omk"}));
  COHORT_ASSIGN_OR_RETURN(std::vector<JsonLine> rows, ReadJsonLines(path));
  std::vector<Problem> problems;
  for (const JsonLine& row : rows) {
    COHORT_ASSIGN_OR_RETURN(
        Problem p, ParseArcRow(row, path, static_cast<int>(problems.size()), newline));
    problems.push_back(std::move(p));
  }
  return problems;
}

std::string BuildArcPrompt(absl::string_view stem, const std::vector<std::string>& choices,
                           absl::string_view newline) {
  std::string prompt = absl::StrCat(
      "Given the following question and four candidate answers (A, B, C and D), "
      "choose the best answer.", newline, "Question: ", Strip(stem));
  // Only A-D exist in the template: a fifth choice is never shown (T25).
  static constexpr const char* kLetters[] = {"A", "B", "C", "D"};
  for (size_t i = 0; i < choices.size() && i < 4; ++i) {
    absl::StrAppend(&prompt, newline, kLetters[i], ". ", choices[i]);
  }
  absl::StrAppend(&prompt, newline,
                  "Your response should end with \"The best answer is "
                  "[the_answer_letter]\" where the [the_answer_letter] is one "
                  "of A, B, C or D.");
  return prompt;
}

std::string ExtractArcLetter(absl::string_view text, std::string* rule) {
  // omk's Python regexes (eval/lm_eval_tasks/arc_challenge_chat/utils_chat.py),
  // with Python's Unicode \s and \b (PyRegex): "answer is A\u00e9" is no answer.
  static const PyRegex kPhrase(
      "(?:best\\s+answer\\s+is|answer\\s+is|the\\s+answer\\s+is|"
      "final\\s+answer\\s*:?|answer\\s*:)\\s*\\*{0,2}\\s*\\(?\\s*([A-D])\\b",
      PyRegex::kIgnoreCase);
  static const PyRegex kBoxed("\\\\boxed\\s*\\{\\s*([A-D])\\s*\\}", PyRegex::kIgnoreCase);
  // The tail fallback is case-sensitive in omk (an article "a" is no answer).
  static const PyRegex kTail("\\b([A-D])\\b");
  std::string letter = kPhrase.LastGroup(text).value_or("");
  *rule = "answer_phrase";
  if (letter.empty()) {
    letter = kBoxed.LastGroup(text).value_or("");
    *rule = "boxed";
  }
  if (letter.empty()) {
    letter = kTail.LastGroup(LastCodePoints(text, 400)).value_or("");
    *rule = "tail_letter";
  }
  if (letter.empty()) *rule = "none";
  return absl::AsciiStrToUpper(letter);
}

Verdict ScoreArc(const Problem& problem, absl::string_view completion,
                 const BenchSettings& /*settings*/) {
  Verdict v;
  v.extracted = ExtractArcLetter(completion, &v.rule);
  v.passed = !v.extracted.empty() && v.extracted == problem.gold;
  return v;
}

}  // namespace cohort::worker::eval
