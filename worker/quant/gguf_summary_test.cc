#include "worker/quant/gguf_summary.h"

#include <string>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/quant/gguf_json.h"
#include "worker/quant/gguf_test_util.h"

namespace cohort::worker::quant {
namespace {

using ::cohort::testing::StatusIs;
using ::testing::HasSubstr;

GgufSummary TinySummary(uint32_t experts = 4) {
  GgufContents g =
      *ParseGguf(testing::TinyMoeBytes(experts), "out/model-Q6_K.gguf");
  return *SummarizeGguf(g);
}

GgufExpectations Want(uint64_t experts) {
  GgufExpectations want;
  want.architecture = "gemma4";
  want.expert_count = experts;
  return want;
}

TEST(GgufSummaryTest, ReadsTheKeys) {
  GgufSummary s = TinySummary(4);
  EXPECT_EQ(s.architecture, "gemma4");
  EXPECT_EQ(s.file_type, 18u);
  EXPECT_EQ(s.file_type_name, "MOSTLY_Q6_K");
  EXPECT_EQ(s.expert_count, 4u);
  EXPECT_EQ(s.expert_used_count, 2u);
  EXPECT_EQ(s.block_count, 2u);
  EXPECT_EQ(s.tensor_count, 6u);
  EXPECT_EQ(s.tensor_types.at("q6_K"), 2u);
  EXPECT_EQ(s.tensor_types.at("f32"), 3u);
  EXPECT_EQ(s.tensor_types.at("q8_0"), 1u);
  EXPECT_GT(s.tensor_bytes, 0u);
}

TEST(GgufSummaryTest, MissingKeysAreEmpty) {
  GgufWriter w;
  w.SetString("general.type", "imatrix");
  ASSERT_OK_AND_ASSIGN(GgufContents g, ParseGguf(*w.Serialize(), "i.gguf"));
  ASSERT_OK_AND_ASSIGN(GgufSummary s, SummarizeGguf(g));
  EXPECT_EQ(s.architecture, "");
  EXPECT_EQ(s.general_type, "imatrix");
  EXPECT_FALSE(s.file_type.has_value());
  EXPECT_FALSE(s.expert_count.has_value());
}

TEST(GgufSummaryTest, WrongKeyTypes) {
  GgufWriter w;
  w.Set("general.architecture", GgufValue::U32(1));
  EXPECT_THAT(SummarizeGguf(*ParseGguf(*w.Serialize(), "w.gguf")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("w.gguf: metadata 'general.architecture' is "
                                 "a uint32, expected a string")));
  GgufWriter n;
  n.SetString("general.architecture", "qwen3moe");
  n.Set("qwen3moe.expert_count", GgufValue::I32(-1));
  EXPECT_THAT(SummarizeGguf(*ParseGguf(*n.Serialize(), "n.gguf")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("'qwen3moe.expert_count' is a int32")));
}

TEST(GgufVerifyTest, Matches) {
  GgufExpectations want = Want(4);
  want.tensor_count = 6;
  want.file_type = "Q6_K";
  EXPECT_OK(VerifyGguf(TinySummary(4), want));
  want.file_type = "MOSTLY_Q6_K";
  EXPECT_OK(VerifyGguf(TinySummary(4), want));
}

TEST(GgufVerifyTest, ExpertCountMismatchNamesTheFileAndTheSource) {
  GgufExpectations want = Want(98);
  want.expert_count_source = "the pruned count";
  EXPECT_THAT(VerifyGguf(TinySummary(128), want),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "model-Q6_K.gguf: expert_count is 128, expected 98 "
                       "(the pruned count)"));
}

TEST(GgufVerifyTest, ListsEveryMismatch) {
  GgufExpectations want = Want(4);
  want.architecture = "qwen3moe";
  want.tensor_count = 7;
  want.file_type = "Q4_K_M";
  EXPECT_THAT(
      VerifyGguf(TinySummary(4), want),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               "model-Q6_K.gguf: architecture is 'gemma4', expected "
               "'qwen3moe'; model-Q6_K.gguf: tensor_count is 6, expected 7; "
               "model-Q6_K.gguf: file_type is MOSTLY_Q6_K, expected "
               "MOSTLY_Q4_K_M"));
}

TEST(GgufVerifyTest, MissingExpertCount) {
  GgufSummary s = TinySummary(4);
  s.expert_count.reset();
  EXPECT_THAT(VerifyGguf(s, Want(4)),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("expert_count is missing, expected 4")));
}

TEST(GgufVerifyTest, BadExpectations) {
  EXPECT_THAT(VerifyGguf(TinySummary(), GgufExpectations()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("architecture is empty")));
  GgufExpectations want = Want(4);
  want.file_type = "Q9_Z";
  EXPECT_THAT(VerifyGguf(TinySummary(), want),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("Q9_Z")));
}

TEST(GgufJsonTest, AbbreviatesLongArrays) {
  GgufContents g = *ParseGguf(testing::TinyMoeBytes(), "tiny.gguf");
  GgufSummary s = *SummarizeGguf(g);
  GgufJsonOptions options;
  options.max_array_items = 4;
  nlohmann::ordered_json j = GgufToJson(g, s, options);
  EXPECT_EQ(j["version"], 3);
  EXPECT_EQ(j["tensor_count"], 6);
  EXPECT_EQ(j["summary"]["file_type_name"], "MOSTLY_Q6_K");
  EXPECT_EQ(j["summary"]["expert_count"], 4);
  EXPECT_EQ(j["summary"]["tensor_types"]["q6_K"], 2);
  const auto& tokens = j["metadata"]["tokenizer.ggml.tokens"];
  EXPECT_EQ(tokens["length"], 40);
  EXPECT_EQ(tokens["element_type"], "string");
  EXPECT_EQ(tokens["head"].size(), 4u);
  EXPECT_EQ(j["metadata"]["tokenizer.ggml.scores"].size(), 3u);
  EXPECT_EQ(j["metadata"]["test.i64"], -(1ll << 40));
  EXPECT_EQ(j["metadata"]["test.nested"][0][1], "b");
  EXPECT_EQ(j["metadata"].begin().key(), "general.architecture");  // order
  EXPECT_EQ(j["tensors"][3]["name"], "blk.0.ffn_down_exps.weight");
  EXPECT_EQ(j["tensors"][3]["type"], "q6_K");
  EXPECT_EQ(j["tensors"][3]["dims"], nlohmann::ordered_json({256, 256, 4}));
}

TEST(GgufJsonTest, InvalidUtf8AndNanDoNotThrow) {
  GgufWriter w;
  w.SetString("bad", std::string("\xff\xfe", 2));
  w.Set("nan", GgufValue::F32(std::numeric_limits<float>::quiet_NaN()));
  GgufContents g = *ParseGguf(*w.Serialize(), "u.gguf");
  std::string text = GgufJsonText(g, *SummarizeGguf(g));
  EXPECT_THAT(text, HasSubstr("\"nan\": null"));
  EXPECT_THAT(text, HasSubstr("\"bad\": \""));
}

}  // namespace
}  // namespace cohort::worker::quant
