#include "worker/eval/ifeval.h"

#include <cstdio>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/eval/punkt.h"
#include "worker/eval/score.h"
#include "worker/eval/test_util.h"

namespace cohort::worker::eval {
namespace {

using ::testing::ElementsAre;

TEST(IfevalTest, LooseVariantsInUpstreamOrder) {
  EXPECT_THAT(IfevalLooseVariants("Sure!\n*body*\nBye"),
              ElementsAre("Sure!\n*body*\nBye", "Sure!\nbody\nBye", "*body*\nBye",
                          "Sure!\n*body*", "*body*", "body\nBye", "Sure!\nbody", "body"));
}

TEST(IfevalTest, StrictAndLoose) {
  Problem p;
  p.meta["instruction_id_list"] = {"startend:quotation", "punctuation:no_comma"};
  p.meta["kwargs"] = {nlohmann::json::object(), nlohmann::json::object()};
  BenchSettings s = CardSettings("ifeval");
  Verdict strict_pass = ScoreIfeval(p, "\"quoted\"", s);
  EXPECT_TRUE(strict_pass.passed);
  Verdict loose_only = ScoreIfeval(p, "Here you go:\n\"quoted\"", s);
  EXPECT_FALSE(loose_only.passed);
  EXPECT_EQ(loose_only.detail["strict"], nlohmann::json({false, true}));
  EXPECT_EQ(loose_only.detail["loose"], nlohmann::json({true, true}));
  Verdict empty = ScoreIfeval(p, "   ", s);
  EXPECT_EQ(empty.detail["strict"], nlohmann::json({false, false}));
  EXPECT_EQ(empty.detail["loose"], nlohmann::json({false, false}));
}

// The published GPT-4 responses (541 prompts, 834 instructions). Google's
// current instruction_following_eval code gives 417 / 698 / 431 / 714
// (77.08 / 83.69 / 79.67 / 85.61: prompt strict, instruction strict, prompt
// loose, instruction loose); the IFEval paper (Table 3) 76.89 / 83.57 /
// 79.30 / 85.37. cohort, with langdetect reproduced (its detections equal
// Python langdetect's with seed 0 on all 541 responses, docs/benches.md),
// is one prompt and one instruction from Google's code at each level, a
// difference outside language detection (sentence splitting: NLTK Punkt,
// which cohort approximates with ICU). With CLD2 in langdetect's place it
// was 421 / 702 / 435 / 718.
TEST(IfevalTest, PublishedGpt4ResponsesMatchThePaper) {
  BenchSettings s = CardSettings("ifeval");
  ASSERT_OK_AND_ASSIGN(std::vector<Problem> problems,
                       LoadIfeval(DatasetPath("ifeval/input_data.jsonl"), s));
  ASSERT_EQ(problems.size(), 541u);
  ASSERT_OK_AND_ASSIGN(
      std::vector<CompletionRow> rows,
      ReadCompletions(DatasetPath("ifeval/input_response_data_gpt4_20231107_145030.jsonl")));
  ASSERT_OK_AND_ASSIGN(ScoreRun run,
                       ScoreCompletions(*FindBench("ifeval"), s, problems, rows, "gpt4"));
  const nlohmann::json m = ScoreSummaryToJson(run.summary);
  EXPECT_EQ(m["n"], 541);
  EXPECT_EQ(m["n_instructions"], 834);
  // With NLTK's English Punkt model installed (COHORT_PUNKT_DIR or
  // NLTK_DATA, punkt.h) the counts are those of Google's current
  // instruction_following_eval code; with ICU's sentence breaks in its place
  // (no model: CI) one prompt and one instruction differ at each level.
  bool punkt = PunktTokenizer::English().ok();
  EXPECT_EQ(m["sentence_splitter"], punkt ? "nltk-punkt" : "icu");
  EXPECT_NEAR(m["prompt_level_strict_acc"].get<double>(), (punkt ? 417.0 : 416.0) / 541, 1e-12);
  EXPECT_NEAR(m["inst_level_strict_acc"].get<double>(), (punkt ? 698.0 : 697.0) / 834, 1e-12);
  EXPECT_NEAR(m["prompt_level_loose_acc"].get<double>(), (punkt ? 431.0 : 430.0) / 541, 1e-12);
  EXPECT_NEAR(m["inst_level_loose_acc"].get<double>(), (punkt ? 714.0 : 713.0) / 834, 1e-12);
}

}  // namespace
}  // namespace cohort::worker::eval
