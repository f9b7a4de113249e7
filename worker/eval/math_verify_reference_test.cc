// MATH-500 verdicts against the reference: every row of
// tests/data/reference_verdicts/math500_math_verify.jsonl.gz holds a
// completion and the verdict Math-Verify gives it, as lm-eval's
// minerva_math500 scores it (verify(parse(solution), parse(completion))).
// How the table was made: tests/data/reference_verdicts/README.md.
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gtest/gtest.h"
#include "worker/eval/jsonl.h"
#include "worker/eval/math500.h"
#include "worker/eval/math_verify.h"
#include "worker/eval/test_util.h"

namespace cohort::worker::eval {
namespace {

TEST(Math500ReferenceTest, VerdictsEqualMathVerifys) {
  ASSERT_OK_AND_ASSIGN(std::vector<Problem> problems,
                       LoadMath500(DatasetPath("math500/test.jsonl"), CardSettings("math500")));
  ASSERT_OK_AND_ASSIGN(std::vector<JsonLine> solutions,
                       ReadJsonLines(DatasetPath("math500/test.jsonl")));
  std::map<std::string, const Problem*> by_id;
  std::map<std::string, std::string> solution_of;
  for (size_t i = 0; i < problems.size(); ++i) {
    by_id[problems[i].id] = &problems[i];
    solution_of[problems[i].id] = solutions[i].value["solution"].get<std::string>();
  }
  ASSERT_OK_AND_ASSIGN(
      std::vector<JsonLine> rows,
      ReadJsonLines(cohort::testing::TestDataDir() +
                    "/reference_verdicts/math500_math_verify.jsonl.gz"));
  ASSERT_GT(rows.size(), 6000u);
  std::ofstream dump;
  if (const char* path = std::getenv("COHORT_MATH_DUMP")) dump.open(path);
  std::map<std::string, int> differ_by_kind;
  int differ = 0;
  int read_differ = 0;
  for (const JsonLine& row : rows) {
    const std::string id = row.value["id"];
    ASSERT_TRUE(by_id.count(id)) << id;
    const std::string completion = row.value["completion"].is_null()
                                       ? solution_of[id]
                                       : row.value["completion"].get<std::string>();
    const bool reference = row.value["math_verify"].get<bool>();
    Verdict v = ScoreMath500(*by_id[id], completion, CardSettings("math500"));
    // The string the reference read (parse()'s fallback, its last answer).
    std::vector<MathAnswer> answers = MathVerifyParse(completion);
    const nlohmann::json& read = row.value["extracted"];
    std::string reference_read = read.empty() ? "" : read.back().get<std::string>();
    std::string cohort_read = answers.empty() ? "" : answers.back().text;
    if (reference_read != cohort_read) {
      ++read_differ;
      if (dump.is_open()) {
        dump << nlohmann::json{{"read_differ", true}, {"reference", reference_read},
                               {"cohort", cohort_read}, {"completion", completion}}.dump()
             << "\n";
      }
    }
    if (v.passed != reference) {
      ++differ;
      ++differ_by_kind[row.value["kind"].get<std::string>()];
      if (dump.is_open()) {
        nlohmann::json out = row.value;
        out["cohort"] = v.passed;
        out["cohort_extracted"] = v.extracted;
        out["gold"] = by_id[id]->gold;
        dump << out.dump() << "\n";
      }
    }
  }
  for (const auto& [kind, n] : differ_by_kind) std::printf("differ %-20s %d\n", kind.c_str(), n);
  EXPECT_EQ(differ, 0) << "of " << rows.size();
  EXPECT_EQ(read_differ, 0) << "of " << rows.size();
}

}  // namespace
}  // namespace cohort::worker::eval
