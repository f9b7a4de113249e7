#include "worker/eval/gsm8k.h"

#include "common/sha256.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/eval/test_util.h"

namespace cohort::worker::eval {
namespace {

using ::testing::HasSubstr;
using ::cohort::testing::StatusIs;
using ::testing::EndsWith;

TEST(Gsm8kExtractTest, LastNumberWins) {
  EXPECT_EQ(ExtractGsm8kFlexible("She makes 18 dollars (2 x 9)"), "9");
  EXPECT_EQ(ExtractGsm8kFlexible("Total: $1,000."), "$1,000.");
  EXPECT_EQ(ExtractGsm8kFlexible("answer -7"), "-7");
  EXPECT_EQ(ExtractGsm8kFlexible("no digits here"), "");
}

TEST(Gsm8kNormalizeTest, LmEvalRegexes) {
  EXPECT_EQ(NormalizeGsm8k("$1,000."), "1000");
  EXPECT_EQ(NormalizeGsm8k("She sells 9.\n#### 1,000"), "1000");
  EXPECT_EQ(NormalizeGsm8k("18.00"), "18.00");  // not numeric equality
}

TEST(Gsm8kScoreTest, PassAndFail) {
  Problem p;
  p.gold = "18";
  BenchSettings s = CardSettings("gsm8k");
  EXPECT_TRUE(ScoreGsm8k(p, "So she makes $18.", s).passed);
  EXPECT_TRUE(ScoreGsm8k(p, "#### 18", s).passed);
  EXPECT_FALSE(ScoreGsm8k(p, "18 dollars (2 x 9)", s).passed);
  EXPECT_FALSE(ScoreGsm8k(p, "18.00", s).passed);
  EXPECT_FALSE(ScoreGsm8k(p, "", s).passed);
}

TEST(Gsm8kLoadTest, ReferenceAnswersScoreFull) {
  BenchSettings s = CardSettings("gsm8k");
  ASSERT_OK_AND_ASSIGN(std::vector<Problem> problems,
                       LoadGsm8k(DatasetPath("gsm8k/test.jsonl"), s));
  ASSERT_EQ(problems.size(), 1319u);
  EXPECT_EQ(problems[0].id, "0");
  EXPECT_EQ(problems[0].gold, "18");
  EXPECT_THAT(problems[0].prompt, HasSubstr("Question: Janet"));
  EXPECT_THAT(problems[0].prompt, EndsWith("\nAnswer:"));
  EXPECT_EQ(problems[0].meta["fewshot"], 5);
  int passed = 0;
  for (const Problem& p : problems) {
    std::string reference = p.meta["reference"].get<std::string>();
    passed += ScoreGsm8k(p, reference, s).passed;
    EXPECT_FALSE(ScoreGsm8k(p, "The answer is " + p.gold + "1", s).passed);
  }
  EXPECT_EQ(passed, 1319);
}

// The 5-shot prompts lm-eval's sampler gives (the train split ships beside
// the test split in data/gsm8k). Reference, CPython 3.11:
//   python3 -c 'import json,random,hashlib
//   train=[json.loads(l) for l in open("data/gsm8k/train.jsonl")]
//   test=[json.loads(l) for l in open("data/gsm8k/test.jsonl")]
//   r=random.Random(1234)
//   for i,d in enumerate(test[:100]):
//     shots=r.sample(train,5)
//     p="".join("Question: "+s["question"]+"\nAnswer: "+s["answer"]+"\n\n" for s in shots)
//     p+="Question: "+d["question"]+"\nAnswer:"
//     if i in (0,99): print(i, hashlib.sha256(p.encode()).hexdigest())'
TEST(Gsm8kLoadTest, ExemplarsAreLmEvalsSeededSample) {
  BenchSettings s = CardSettings("gsm8k");
  s.prompt_template = "gsm8k_qa_fewshot_v1";  // one user message, as hashed above
  ASSERT_OK_AND_ASSIGN(std::vector<Problem> problems,
                       LoadGsm8k(DatasetPath("gsm8k/test.jsonl"), s));
  EXPECT_EQ(problems[0].meta["fewshot_rows"], nlohmann::json({6374, 3610, 957, 61, 742}));
  EXPECT_EQ(problems[99].meta["fewshot_rows"], nlohmann::json({429, 244, 3670, 6602, 656}));
  EXPECT_EQ(Sha256Hex(problems[0].prompt),
            "32680f263ba83280e98a8a24ceefed10a722a4cdcd9f4d78e93c45d43143ca66");
  EXPECT_EQ(Sha256Hex(problems[99].prompt),
            "b70a0129b39e58f79f8e991743e83551dba0028716b7ac434edba523d745a7c9");
  // The train split named explicitly gives the same draw.
  s.fewshot_path = DatasetPath("gsm8k/train.jsonl");
  ASSERT_OK_AND_ASSIGN(std::vector<Problem> again,
                       LoadGsm8k(DatasetPath("gsm8k/test.jsonl"), s));
  EXPECT_EQ(again[99].prompt, problems[99].prompt);
}

TEST(Gsm8kLoadTest, NoTrainSplitForAFewShotRunIsAnError) {
  cohort::testing::TempDir dir;
  std::string test = WriteFile(dir, "test.jsonl", "{\"question\":\"Q?\",\"answer\":\"#### 3\"}\n");
  BenchSettings s = CardSettings("gsm8k");
  EXPECT_THAT(LoadGsm8k(test, s).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("train split")));
  s.num_fewshot = 0;  // zero-shot asked for: fine
  ASSERT_OK_AND_ASSIGN(std::vector<Problem> problems, LoadGsm8k(test, s));
  EXPECT_EQ(problems[0].prompt, "Question: Q?\nAnswer:");
}

TEST(Gsm8kLoadTest, FewShotFromTrainBesideTest) {
  cohort::testing::TempDir dir;
  WriteFile(dir, "train.jsonl", "{\"question\":\"Q1?\",\"answer\":\"A1\\n#### 1\"}\n"
                                "{\"question\":\"Q2?\",\"answer\":\"#### 2\"}\n");
  std::string test = WriteFile(dir, "test.jsonl", "{\"question\":\"Q?\",\"answer\":\"#### 3\"}\n");
  BenchSettings s = CardSettings("gsm8k");
  s.num_fewshot = 2;
  ASSERT_OK_AND_ASSIGN(std::vector<Problem> problems, LoadGsm8k(test, s));
  // random.Random(1234).sample([0, 1], 2) == [1, 0]. The card profile sends
  // them as turns (lm-eval 0.4.11 under --apply_chat_template).
  EXPECT_EQ(s.prompt_template, "gsm8k_qa_multiturn_v1");
  ASSERT_EQ(problems[0].history.size(), 4u);
  EXPECT_EQ(problems[0].history[0].role, "user");
  EXPECT_EQ(problems[0].history[0].content, "Question: Q2?\nAnswer:");
  EXPECT_EQ(problems[0].history[1].role, "assistant");
  EXPECT_EQ(problems[0].history[1].content, "#### 2");
  EXPECT_EQ(problems[0].history[2].content, "Question: Q1?\nAnswer:");
  EXPECT_EQ(problems[0].history[3].content, "A1\n#### 1");
  EXPECT_EQ(problems[0].prompt, "Question: Q?\nAnswer:");
  // One user message (lm-eval before 0.4.10, or --fewshot_as_multiturn false).
  s.prompt_template = "gsm8k_qa_fewshot_v1";
  ASSERT_OK_AND_ASSIGN(problems, LoadGsm8k(test, s));
  EXPECT_TRUE(problems[0].history.empty());
  EXPECT_EQ(problems[0].prompt,
            "Question: Q2?\nAnswer: #### 2\n\nQuestion: Q1?\nAnswer: A1\n#### 1\n\n"
            "Question: Q?\nAnswer:");
  s.num_fewshot = 3;
  EXPECT_THAT(LoadGsm8k(test, s).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("fewer than the 3")));
}

}  // namespace
}  // namespace cohort::worker::eval
