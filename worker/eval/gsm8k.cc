#include "worker/eval/gsm8k.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "worker/eval/jsonl.h"
#include "worker/eval/py_random.h"
#include "worker/eval/text_util.h"

namespace cohort::worker::eval {
namespace {

// lm-eval's seed for few-shot sampling (fewshot_random_seed's default).
constexpr uint64_t kFewshotSeed = 1234;

// The train split: --fewshot, else train.jsonl beside the test file.
std::string FindTrainSplit(const std::string& test_path, const BenchSettings& settings) {
  if (!settings.fewshot_path.empty()) return settings.fewshot_path;
  std::filesystem::path dir = std::filesystem::path(test_path).parent_path();
  for (const char* name : {"train.jsonl", "train.jsonl.gz"}) {
    std::error_code ec;
    if (std::filesystem::exists(dir / name, ec)) return (dir / name).string();
  }
  return "";
}

// Every row of the train split. A bench run that asks for exemplars and has
// none is an error: a silent zero-shot run scores another protocol.
absl::StatusOr<std::vector<Gsm8kExemplar>> LoadTrainSplit(const std::string& test_path,
                                                          const BenchSettings& settings) {
  std::vector<Gsm8kExemplar> train;
  if (settings.num_fewshot <= 0) return train;
  const std::string path = FindTrainSplit(test_path, settings);
  if (path.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        test_path, ": gsm8k is ", settings.num_fewshot,
        "-shot and its exemplars come from the train split, which is neither given "
        "(--fewshot) nor beside the test file (train.jsonl)"));
  }
  COHORT_ASSIGN_OR_RETURN(std::vector<JsonLine> rows, ReadJsonLines(path));
  for (const JsonLine& row : rows) {
    COHORT_ASSIGN_OR_RETURN(std::string q, GetString(row, "question", path));
    COHORT_ASSIGN_OR_RETURN(std::string a, GetString(row, "answer", path));
    train.push_back({std::move(q), std::move(a)});
  }
  if (static_cast<int>(train.size()) < settings.num_fewshot) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", train.size(),
                                                   " rows, fewer than the ",
                                                   settings.num_fewshot, " exemplars asked"));
  }
  return train;
}

}  // namespace

absl::StatusOr<std::vector<Problem>> LoadGsm8k(const std::string& path,
                                               const BenchSettings& settings) {
  COHORT_RETURN_IF_ERROR(CheckId("prompt_template", settings.prompt_template,
                                 {"gsm8k_qa_fewshot_v1", "gsm8k_qa_multiturn_v1"}));
  const bool multiturn = settings.prompt_template == "gsm8k_qa_multiturn_v1";
  COHORT_RETURN_IF_ERROR(CheckId("extractor", settings.extractor, {"gsm8k_flexible"}));
  COHORT_ASSIGN_OR_RETURN(std::vector<JsonLine> rows, ReadJsonLines(path));
  COHORT_ASSIGN_OR_RETURN(std::vector<Gsm8kExemplar> train, LoadTrainSplit(path, settings));
  // lm-eval draws each document's exemplars with one sample() call of a
  // Random(1234) shared by the task, document after document from row 0
  // (docs/protocol.md 1.6, T17): every row draws here, so a limit or shard
  // keeps the exemplars the full run would give its rows.
  PyRandom rng(kFewshotSeed);
  std::vector<Problem> problems;
  for (const JsonLine& row : rows) {
    COHORT_ASSIGN_OR_RETURN(std::string question, GetString(row, "question", path));
    COHORT_ASSIGN_OR_RETURN(std::string answer, GetString(row, "answer", path));
    std::vector<Gsm8kExemplar> shots;
    nlohmann::json shot_rows = nlohmann::json::array();
    if (!train.empty()) {
      for (uint64_t i : rng.Sample(train.size(), settings.num_fewshot)) {
        shots.push_back(train[i]);
        shot_rows.push_back(i);
      }
    }
    Problem p;
    p.index = static_cast<int>(problems.size());
    p.id = std::to_string(p.index);
    if (multiturn) {
      p.history = BuildGsm8kTurns(shots);
      p.prompt = BuildGsm8kPrompt(question, {});
    } else {
      p.prompt = BuildGsm8kPrompt(question, shots);
    }
    p.gold = NormalizeGsm8k(answer);
    p.meta["reference"] = answer;
    p.meta["fewshot"] = shots.size();
    p.meta["fewshot_rows"] = std::move(shot_rows);
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

std::vector<ChatTurn> BuildGsm8kTurns(const std::vector<Gsm8kExemplar>& shots) {
  std::vector<ChatTurn> turns;
  for (const Gsm8kExemplar& shot : shots) {
    turns.push_back({"user", absl::StrCat("Question: ", shot.question, "\nAnswer:")});
    turns.push_back({"assistant", shot.answer});
  }
  return turns;
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
