#include "worker/eval/aime.h"

#include <cstdint>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "worker/eval/jsonl.h"
#include "worker/eval/py_regex.h"
#include "worker/eval/text_util.h"

namespace cohort::worker::eval {
namespace {

// Integer text in canonical form ("007" -> "7", "+5" -> "5"); "" if `text`
// is not an integer that fits 64 bits.
std::string CanonicalInteger(absl::string_view text) {
  std::string s = Strip(text);
  if (!s.empty() && s[0] == '+') s.erase(0, 1);
  int64_t value = 0;
  if (s.empty() || !absl::SimpleAtoi(s, &value)) return "";
  return std::to_string(value);
}

// omk's tiers are Python regexes (eval/lm_eval_tasks/aime24_chat/utils_chat.py):
// PyRegex gives \s, \d and \b their Unicode meaning, so "is\u202f540" and
// full-width digits read as they do upstream.
std::string Tier1Boxed(absl::string_view text) {
  static const PyRegex kBoxed("\\\\boxed\\s*\\{([^{}]+)\\}");
  static const PyRegex kNotDigit("[^\\d\\-+]");
  std::optional<std::string> inner = kBoxed.LastGroup(text);
  return inner ? kNotDigit.Sub(*inner, "") : "";
}

std::string Tier4LastLine(absl::string_view text) {
  static const PyRegex kLineEnd(
      "\\b(?:is|equals|=)\\s*\\$?\\s*([\\-+]?\\d+)\\s*\\$?\\.?\\s*$",
      PyRegex::kIgnoreCase | PyRegex::kMultiline);
  // omk: resp.rstrip().rsplit("\n", 1)[-1], then the FIRST match (search).
  std::string stripped = RStrip(text);
  size_t nl = stripped.rfind('\n');
  absl::string_view last = absl::string_view(stripped).substr(
      nl == std::string::npos ? 0 : nl + 1);
  std::optional<PyMatch> match = kLineEnd.Search(last);
  return match ? match->groups[0].value_or("") : "";
}

std::string Fired(const char* name, std::string found, std::string* rule) {
  *rule = name;
  return found;
}

}  // namespace

absl::StatusOr<std::vector<Problem>> LoadAime(const std::string& path,
                                              const BenchSettings& settings) {
  COHORT_RETURN_IF_ERROR(CheckId("prompt_template", settings.prompt_template, {"aime_qa_v1"}));
  COHORT_RETURN_IF_ERROR(CheckId("extractor", settings.extractor,
                                 {"aime_omk_5tier", "aime_omk_6tier"}));
  COHORT_ASSIGN_OR_RETURN(std::vector<JsonLine> rows, ReadJsonLines(path));
  std::vector<Problem> problems;
  for (const JsonLine& row : rows) {
    const nlohmann::json* problem = FindKeyIgnoreCase(row.value, "problem");
    const nlohmann::json* answer = FindKeyIgnoreCase(row.value, "answer");
    const nlohmann::json* id = FindKeyIgnoreCase(row.value, "id");
    std::string gold = answer != nullptr ? CanonicalInteger(ScalarToString(*answer)) : "";
    if (problem == nullptr || !problem->is_string() || gold.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ":", row.line, ": needs a string 'problem' and an integer 'answer'"));
    }
    Problem p;
    p.index = static_cast<int>(problems.size());
    p.id = id != nullptr ? ScalarToString(*id) : "";
    if (p.id.empty()) p.id = std::to_string(p.index);
    p.prompt = BuildAimePrompt(problem->get<std::string>());
    p.gold = gold;
    p.meta["reference"] = ScalarToString(*answer);
    problems.push_back(std::move(p));
  }
  return problems;
}

std::string BuildAimePrompt(absl::string_view problem) {
  return absl::StrCat("Question: ", problem, "\nAnswer:");
}

std::string ExtractAimeAnswer(absl::string_view text, bool six_tier,
                              std::string* rule) {
  static const PyRegex kLineAnswer(
      "(?:^|\\n)\\s*\\**\\s*(?:final\\s*)?answer\\s*:?\\s*\\**\\s*\\$?\\s*([\\-+]?\\d+)",
      PyRegex::kIgnoreCase);
  static const PyRegex kAnswerIs(
      "(?:final\\s*answer|answer\\s*is|answer\\s*:)\\s*\\*{0,2}\\s*\\$?\\\\?boxed?\\{?([\\-+]?\\d+)",
      PyRegex::kIgnoreCase);
  static const PyRegex kEquals("=\\s*\\*{0,2}\\s*\\$?\\s*([\\-+]?\\d+)\\b");
  static const PyRegex kInteger("[\\-+]?\\d+");
  std::string found = Tier1Boxed(text);
  if (!found.empty()) return Fired("tier1_boxed", found, rule);
  if (six_tier) {
    found = kLineAnswer.LastGroup(text).value_or("");
    if (!found.empty()) return Fired("tier2_answer_line", found, rule);
  }
  found = kAnswerIs.LastGroup(text).value_or("");
  if (!found.empty()) return Fired("tier3_answer_phrase", found, rule);
  found = Tier4LastLine(text);
  if (!found.empty()) return Fired("tier4_last_line", found, rule);
  found = kEquals.LastGroup(text).value_or("");
  if (!found.empty()) return Fired("tier5_equals", found, rule);
  std::vector<PyMatch> tail = kInteger.FindAll(LastCodePoints(text, 400));
  if (!tail.empty()) return Fired("tier6_tail", tail.back().text, rule);
  *rule = "none";
  return "";
}

Verdict ScoreAime(const Problem& problem, absl::string_view completion,
                  const BenchSettings& settings) {
  Verdict v;
  bool six_tier = settings.extractor == "aime_omk_6tier";
  v.extracted = ExtractAimeAnswer(completion, six_tier, &v.rule);
  // omk compares strings: "025" or "+25" does not match gold "25".
  v.passed = !v.extracted.empty() && v.extracted == problem.gold;
  v.detail["integer_match"] =
      !v.extracted.empty() && CanonicalInteger(v.extracted) == problem.gold;
  return v;
}

}  // namespace cohort::worker::eval
