#include "worker/eval/profile.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/eval/bench.h"
#include "worker/eval/test_util.h"

namespace cohort::worker::eval {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using cohort::testing::StatusIs;

TEST(ProfileTest, BuiltinCardProfileReproducesTheCardEra) {
  EXPECT_THAT(BuiltinProfileNames(), ElementsAre("omk-card-2026-07", "omk-head-2026-08"));
  ASSERT_OK_AND_ASSIGN(Profile card, LoadProfile("omk-card-2026-07"));
  EXPECT_EQ(card.digest.size(), 64u);
  for (const BenchSpec& bench : AllBenches()) {
    ASSERT_NE(card.Find(bench.name), nullptr) << bench.name;
  }
  const BenchSettings& aime = *card.Find("aime2024");
  EXPECT_EQ(aime.max_tokens, 16384);
  EXPECT_EQ(aime.reasoning_budget, 12288);
  EXPECT_EQ(aime.extractor, "aime_omk_5tier");
  EXPECT_FALSE(card.Find("arc_challenge")->thinking);
  EXPECT_EQ(card.Find("gsm8k")->limit, 100);
  EXPECT_EQ(card.Find("gsm8k")->num_fewshot, 5);
  EXPECT_EQ(card.Find("math500")->limit, 100);
  EXPECT_EQ(card.Find("ifeval")->limit, 100);
  EXPECT_EQ(card.Find("gpqa_diamond")->reasoning_budget, 12288);
  EXPECT_EQ(card.Find("gsm8k")->sampler.temperature, 0.0);
  EXPECT_EQ(card.Find("gsm8k")->SaturationThreshold(), 12288);
  EXPECT_EQ(card.Find("arc_challenge")->SaturationThreshold(), 16384);
}

TEST(ProfileTest, HeadProfileDiffersWhereTheProtocolMoved) {
  ASSERT_OK_AND_ASSIGN(Profile card, LoadProfile("omk-card-2026-07"));
  ASSERT_OK_AND_ASSIGN(Profile head, LoadProfile("omk-head-2026-08"));
  EXPECT_NE(card.digest, head.digest);
  EXPECT_EQ(head.Find("aime2024")->max_tokens, 65536);
  EXPECT_EQ(head.Find("aime2024")->reasoning_budget, 49152);
  EXPECT_EQ(head.Find("aime2024")->extractor, "aime_omk_6tier");
}

TEST(ProfileTest, UserProfileFileAndDigestIgnoresKeyOrder) {
  cohort::testing::TempDir dir;
  std::string a = WriteFile(dir, "a.json", R"({"name": "mine", "benches": {"gsm8k": {
      "max_tokens": 512, "prompt_template": "gsm8k_qa_fewshot_v1",
      "extractor": "gsm8k_flexible", "limit": 10}}})");
  std::string b = WriteFile(dir, "b.json", R"({"benches": {"gsm8k": {"limit": 10,
      "extractor": "gsm8k_flexible", "prompt_template": "gsm8k_qa_fewshot_v1",
      "max_tokens": 512}}, "name": "mine"})");
  ASSERT_OK_AND_ASSIGN(Profile pa, LoadProfile(a));
  ASSERT_OK_AND_ASSIGN(Profile pb, LoadProfile(b));
  EXPECT_EQ(pa.digest, pb.digest);
  EXPECT_EQ(pa.Find("gsm8k")->limit, 10);
  EXPECT_FALSE(pa.Find("gsm8k")->thinking);
  EXPECT_LT(pa.Find("gsm8k")->max_server_error_share, 0);  // absent: bench's default
}

TEST(ProfileTest, MaxServerErrorShareIsAShare) {
  cohort::testing::TempDir dir;
  std::string ok = WriteFile(dir, "ok.json", R"({"name": "x", "benches": {"gsm8k": {
      "max_tokens": 5, "prompt_template": "gsm8k_qa_fewshot_v1", "extractor": "gsm8k_flexible",
      "max_server_error_share": 0.1}}})");
  ASSERT_OK_AND_ASSIGN(Profile p, LoadProfile(ok));
  EXPECT_EQ(p.Find("gsm8k")->max_server_error_share, 0.1);
  std::string bad = WriteFile(dir, "bad.json", R"({"name": "x", "benches": {"gsm8k": {
      "max_tokens": 5, "prompt_template": "p", "extractor": "e",
      "max_server_error_share": 2}}})");
  EXPECT_THAT(LoadProfile(bad), StatusIs(absl::StatusCode::kInvalidArgument,
                                         HasSubstr("between 0 and 1")));
}

TEST(ProfileTest, RefusesTyposAndInconsistentSettings) {
  cohort::testing::TempDir dir;
  std::string typo = WriteFile(dir, "t.json", R"({"name": "x", "benches": {"gsm8k": {
      "max_tokens": 5, "prompt_template": "p", "extractor": "e", "limt": 3}}})");
  EXPECT_THAT(LoadProfile(typo), StatusIs(absl::StatusCode::kInvalidArgument,
                                          HasSubstr("unknown key 'limt'")));
  std::string budget = WriteFile(dir, "u.json", R"({"name": "x", "benches": {"gsm8k": {
      "max_tokens": 5, "prompt_template": "p", "extractor": "e", "thinking": true}}})");
  EXPECT_THAT(LoadProfile(budget), StatusIs(absl::StatusCode::kInvalidArgument,
                                            HasSubstr("reasoning_budget")));
  EXPECT_THAT(LoadProfile(dir.Join("none.json")),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("omk-card-2026-07")));
  // A template id the code lacks is refused when the bench loads.
  BenchSettings s = CardSettings("gsm8k");
  s.prompt_template = "gsm8k_v9";
  EXPECT_THAT(FindBench("gsm8k")->load(DatasetPath("gsm8k/test.jsonl"), s),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("gsm8k_v9")));
}

}  // namespace
}  // namespace cohort::worker::eval
