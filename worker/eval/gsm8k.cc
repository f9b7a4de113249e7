#include "worker/eval/gsm8k.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "worker/eval/jsonl.h"
#include "worker/eval/text_util.h"

namespace cohort::worker::eval {
namespace {

// train.jsonl beside the test file, first `n` rows; empty when absent.
absl::StatusOr<std::vector<Gsm8kExemplar>> LoadExemplars(const std::string& test_path,
                                                         int n) {
  std::vector<Gsm8kExemplar> shots;
  if (n <= 0) return shots;
  std::filesystem::path dir = std::filesystem::path(test_path).parent_path();
  std::string train;
  for (const char* name : {"train.jsonl", "train.jsonl.gz"}) {
    std::error_code ec;
    if (std::filesystem::exists(dir / name, ec)) {
      train = (dir / name).string();
      break;
    }
  }
  if (train.empty()) return shots;
  COHORT_ASSIGN_OR_RETURN(std::vector<JsonLine> rows, ReadJsonLines(train));
  for (const JsonLine& row : rows) {
    if (static_cast<int>(shots.size()) >= n) break;
    COHORT_ASSIGN_OR_RETURN(std::string q, GetString(row, "question", train));
    COHORT_ASSIGN_OR_RETURN(std::string a, GetString(row, "answer", train));
    shots.push_back({std::move(q), std::move(a)});
  }
  return shots;
}

}  // namespace

absl::StatusOr<std::vector<Problem>> LoadGsm8k(const std::string& path,
                                               const BenchSettings& settings) {
  COHORT_RETURN_IF_ERROR(CheckId("prompt_template", settings.prompt_template,
                                 {"gsm8k_qa_fewshot_v1"}));
  COHORT_RETURN_IF_ERROR(CheckId("extractor", settings.extractor, {"gsm8k_flexible"}));
  COHORT_ASSIGN_OR_RETURN(std::vector<JsonLine> rows, ReadJsonLines(path));
  COHORT_ASSIGN_OR_RETURN(std::vector<Gsm8kExemplar> shots,
                          LoadExemplars(path, settings.num_fewshot));
  std::vector<Problem> problems;
  for (const JsonLine& row : rows) {
    COHORT_ASSIGN_OR_RETURN(std::string question, GetString(row, "question", path));
    COHORT_ASSIGN_OR_RETURN(std::string answer, GetString(row, "answer", path));
    Problem p;
    p.index = static_cast<int>(problems.size());
    p.id = std::to_string(p.index);
    p.prompt = BuildGsm8kPrompt(question, shots);
    p.gold = NormalizeGsm8k(answer);
    p.meta["reference"] = answer;
    p.meta["fewshot"] = shots.size();
    if (static_cast<int>(shots.size()) < settings.num_fewshot) {
      p.meta["fewshot_missing"] = settings.num_fewshot - static_cast<int>(shots.size());
    }
    problems.push_back(std::move(p));
  }
  return problems;
}

std::string BuildGsm8kPrompt(absl::string_view question,
                             const std::vector<Gsm8kExemplar>& shots) {
  std::string prompt;
  for (const Gsm8kExemplar& shot : shots) {
    absl::StrAppend(&prompt, "Question: ", shot.question, "\nAnswer: ", shot.answer,
                    "\n\n");
  }
  absl::StrAppend(&prompt, "Question: ", question, "\nAnswer:");
  return prompt;
}

std::string ExtractGsm8kFlexible(absl::string_view text) {
  static const RE2 kNumber("(-?[$0-9.,]{2,})|(-?[0-9]+)", QuietOptions());
  return Strip(LastMatchGroup(kNumber, text));
}

std::string NormalizeGsm8k(absl::string_view text) {
  static const RE2 kComma(",", QuietOptions());
  static const RE2 kDollar("\\$", QuietOptions());
  static const RE2 kThroughHashes("(?s).*#### ", QuietOptions());
  static const RE2 kFinalDot("\\.(\\n?)$", QuietOptions());
  std::string s(text);
  RE2::GlobalReplace(&s, kComma, "");
  RE2::GlobalReplace(&s, kDollar, "");
  RE2::GlobalReplace(&s, kThroughHashes, "");
  RE2::Replace(&s, kFinalDot, "\\1");  // Python's $ also matches before a final \n
  return AsciiLower(s);
}

Verdict ScoreGsm8k(const Problem& problem, absl::string_view completion,
                   const BenchSettings& /*settings*/) {
  Verdict v;
  v.extracted = ExtractGsm8kFlexible(completion);
  v.rule = v.extracted.empty() ? "none" : "flexible_last_number";
  // lm-eval's fallback "[invalid]" never equals a gold number.
  v.passed = !v.extracted.empty() && NormalizeGsm8k(v.extracted) == problem.gold;
  return v;
}

}  // namespace cohort::worker::eval
