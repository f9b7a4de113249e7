#include "worker/eval/math500.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "worker/eval/jsonl.h"
#include "worker/eval/math_answer.h"
#include "worker/eval/math_verify.h"

namespace cohort::worker::eval {

absl::StatusOr<std::vector<Problem>> LoadMath500(const std::string& path,
                                                 const BenchSettings& settings) {
  COHORT_RETURN_IF_ERROR(CheckId("prompt_template", settings.prompt_template,
                                 {"minerva_math500_zeroshot_v1"}));
  COHORT_RETURN_IF_ERROR(
      CheckId("extractor", settings.extractor, {"math_verify_v1", "math_equiv_v1"}));
  COHORT_ASSIGN_OR_RETURN(std::vector<JsonLine> rows, ReadJsonLines(path));
  std::vector<Problem> problems;
  for (const JsonLine& row : rows) {
    COHORT_ASSIGN_OR_RETURN(std::string problem, GetString(row, "problem", path));
    COHORT_ASSIGN_OR_RETURN(std::string answer, GetString(row, "answer", path));
    COHORT_ASSIGN_OR_RETURN(std::string solution, GetString(row, "solution", path));
    Problem p;
    p.index = static_cast<int>(problems.size());
    auto uid = row.value.find("unique_id");
    p.id = uid != row.value.end() && uid->is_string() ? uid->get<std::string>()
                                                      : std::to_string(p.index);
    p.prompt = BuildMath500Prompt(problem);
    p.gold = answer;
    p.gold_source = std::move(solution);
    for (const char* key : {"subject", "level"}) {
      if (auto it = row.value.find(key); it != row.value.end()) p.meta[key] = *it;
    }
    problems.push_back(std::move(p));
  }
  return problems;
}

std::string BuildMath500Prompt(absl::string_view problem) {
  return absl::StrCat("Problem:\n", problem, "\n\nSolution:");
}

Verdict ScoreMath500(const Problem& problem, absl::string_view completion,
                     const BenchSettings& settings) {
  Verdict v;
  if (settings.extractor == "math_verify_v1") {
    // lm-eval minerva_math500: verify(parse(solution), parse(completion)).
    std::vector<MathAnswer> target = MathVerifyParse(completion);
    v.extracted = DescribeAnswers(target);
    v.rule = target.empty() ? "none" : "math_verify";
    v.passed = MathVerifyVerify(MathVerifyParse(problem.gold_source), target);
    return v;
  }
  v.extracted = ExtractMathAnswer(completion, &v.rule);
  std::string how;
  v.passed = !v.extracted.empty() && MathAnswersEquivalent(problem.gold, v.extracted, &how);
  v.detail["match"] = how;
  return v;
}

}  // namespace cohort::worker::eval
