// GSM8K verdicts against the reference: every row of
// tests/data/reference_verdicts/gsm8k_lm_eval.jsonl.gz holds a completion,
// the string lm-eval 0.4.11's flexible-extract filter keeps and the
// exact_match verdict it gives (the task's regexes_to_ignore, ignore_case).
// How the table was made: tests/data/reference_verdicts/README.md.
#include <string>
#include <vector>

#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gtest/gtest.h"
#include "worker/eval/gsm8k.h"
#include "worker/eval/jsonl.h"
#include "worker/eval/test_util.h"

namespace cohort::worker::eval {
namespace {

TEST(Gsm8kReferenceTest, VerdictsAndExtractionsEqualLmEvals) {
  BenchSettings settings = CardSettings("gsm8k");
  ASSERT_OK_AND_ASSIGN(std::vector<Problem> problems,
                       LoadGsm8k(DatasetPath("gsm8k/test.jsonl"), settings));
  ASSERT_OK_AND_ASSIGN(std::vector<JsonLine> rows,
                       ReadJsonLines(cohort::testing::TestDataDir() +
                                     "/reference_verdicts/gsm8k_lm_eval.jsonl.gz"));
  ASSERT_GT(rows.size(), 2000u);
  int verdicts_differ = 0;
  int extractions_differ = 0;
  for (const JsonLine& row : rows) {
    const size_t index = row.value["index"].get<size_t>();
    ASSERT_LT(index, problems.size());
    const std::string completion = row.value["completion"];
    Verdict v = ScoreGsm8k(problems[index], completion, settings);
    if (v.passed != row.value["lm_eval"].get<bool>()) {
      ++verdicts_differ;
      ADD_FAILURE() << "verdict differs on row " << row.line << ": " << completion;
    }
    // lm-eval's fallback "[invalid]" is cohort's "" (nothing extracted).
    std::string filtered = row.value["filtered"];
    if ((filtered == "[invalid]" ? "" : filtered) != v.extracted) {
      ++extractions_differ;
      ADD_FAILURE() << "extraction differs on row " << row.line << ": lm-eval '" << filtered
                    << "', cohort '" << v.extracted << "'";
    }
  }
  EXPECT_EQ(verdicts_differ, 0) << "of " << rows.size();
  EXPECT_EQ(extractions_differ, 0) << "of " << rows.size();
}

}  // namespace
}  // namespace cohort::worker::eval
