#include "worker/eval/humaneval.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "worker/eval/code_exec.h"
#include "worker/eval/jsonl.h"
#include "worker/sandbox/toolchains.h"

namespace cohort::worker::eval {
namespace {

constexpr char kChatTemplate[] = "humaneval_chat_omk_v1";
constexpr char kExtractor[] = "extract_chat_omk";

std::string RenderPrompt(const std::string& prompt) {
  return absl::StrCat(
      "Write a complete Python function that solves the following problem. Output ONLY the "
      "function code inside a single ```python ... ``` markdown block.\n\n```python\n",
      prompt, "\n```");
}

absl::StatusOr<std::vector<Problem>> Load(const std::string& path,
                                          const BenchSettings& settings) {
  COHORT_RETURN_IF_ERROR(CheckId("prompt_template", settings.prompt_template, {kChatTemplate}));
  COHORT_RETURN_IF_ERROR(CheckId("extractor", settings.extractor, {kExtractor}));
  COHORT_ASSIGN_OR_RETURN(std::vector<JsonLine> rows, ReadJsonLines(path));
  COHORT_ASSIGN_OR_RETURN(std::vector<std::string> raw, ReadRawLines(path));
  if (raw.size() != rows.size()) return absl::InternalError(absl::StrCat(path, ": line count"));
  std::vector<Problem> problems;
  for (size_t i = 0; i < rows.size(); ++i) {
    Problem p;
    COHORT_ASSIGN_OR_RETURN(p.id, GetString(rows[i], "task_id", path));
    COHORT_ASSIGN_OR_RETURN(std::string prompt, GetString(rows[i], "prompt", path));
    COHORT_ASSIGN_OR_RETURN(std::string entry, GetString(rows[i], "entry_point", path));
    p.index = static_cast<int>(i);
    p.prompt = RenderPrompt(prompt);
    p.meta["entry_point"] = entry;
    p.meta["row"] = raw[i];
    problems.push_back(std::move(p));
  }
  return problems;
}

Verdict FromHarness(const HarnessRun& run) {
  Verdict v;
  v.rule = "none";
  if (run.ok) {
    v.extracted = run.result.value("extracted", "");
    v.rule = run.result.value("rule", "none");
    v.detail = run.result;
    v.detail.erase("extracted");
    v.detail.erase("rule");
  } else {
    v.detail["status"] = run.timed_out ? "timed out" : absl::StrCat("failed: ", run.failure);
  }
  RecordRun(run.sandbox, "python3", &v.detail);
  return v;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ReadRawLines(const std::string& path) {
  COHORT_ASSIGN_OR_RETURN(std::string text, ReadMaybeGzip(path));
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    lines.emplace_back(line);
  }
  return lines;
}

absl::StatusOr<std::vector<Problem>> LoadHumanEval(const std::string& path,
                                                   const BenchSettings& settings) {
  return Load(path, settings);
}

absl::StatusOr<std::vector<Problem>> LoadHumanEvalPlus(const std::string& path,
                                                       const BenchSettings& settings) {
  return Load(path, settings);
}

Verdict ScoreHumanEval(const Problem& problem, absl::string_view completion,
                       const BenchSettings&) {
  if (!sandbox::FindToolchain("python3").present) return ToolchainMissing("python3");
  nlohmann::json task = {{"mode", "humaneval"}, {"completion", std::string(completion)},
                         {"timeout", 3.0}};
  sandbox::Limits limits;
  limits.cpu = absl::Seconds(6);  // 3 s for the program, the rest for startup
  limits.wall = absl::Seconds(60);
  Verdict v = FromHarness(
      RunHarness(task, problem.meta.value("row", "{}"), limits));
  v.passed = v.detail.value("status", "") == "passed";
  return v;
}

Verdict ScoreHumanEvalPlus(const Problem& problem, absl::string_view completion,
                           const BenchSettings&) {
  if (!sandbox::FindToolchain("python3").present) return ToolchainMissing("python3");
  nlohmann::json task = {{"mode", "evalplus"},      {"completion", std::string(completion)},
                         {"min_time_limit", 4.0},   {"gt_factor", 4.0},
                         {"task_timeout", 60.0}};
  sandbox::Limits limits;
  // Ground truth plus two phases of at most 61 s each.
  limits.cpu = absl::Seconds(300);
  limits.wall = absl::Seconds(900);
  Verdict v = FromHarness(
      RunHarness(task, problem.meta.value("row", "{}"), limits));
  v.passed = v.detail.value("status", "") == "passed";
  return v;
}

}  // namespace cohort::worker::eval
