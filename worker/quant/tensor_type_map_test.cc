#include "worker/quant/tensor_type_map.h"

#include "common/testing/status_matchers.h"
#include "worker/quant/gguf_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::worker::quant {
namespace {

using ::cohort::testing::StatusIs;
using ::testing::HasSubstr;

using testing::TensorInfo;
GgufTensorInfo Tensor(const std::string& name, std::vector<uint64_t> dims, uint32_t type) {
  return TensorInfo(name, std::move(dims), type);
}

// A bf16 model as convert writes it, and what llama-quantize made of it.
struct Pair {
  GgufContents source, quantized;
  void Add(const std::string& name, std::vector<uint64_t> dims, const char* to) {
    source.tensors.push_back(Tensor(name, dims, kGgmlBF16));
    quantized.tensors.push_back(Tensor(name, dims, FindGgmlTypeByName(to)->id));
  }
};

Pair Quantized() {
  Pair p;
  p.quantized.file = "model-Q4_K_M.gguf";
  p.Add("blk.0.ffn_down_exps.weight", {512, 256, 6}, "q8_0");
  p.Add("blk.1.ffn_down_exps.weight", {512, 256, 6}, "q8_0");
  p.Add("blk.0.attn_q.weight", {256, 256}, "q4_K");
  p.Add("blk.0.attn_norm.weight", {256}, "bf16");  // never quantized
  p.Add("blk.0.ffn_gate_exps.weight", {100, 256, 6}, "q5_0");  // 100: not whole q4_K blocks
  return p;
}

TEST(TensorTypeMapTest, EntriesBecomeLowerCasedPatternsWithTheirTypes) {
  ASSERT_OK_AND_ASSIGN(std::vector<TensorTypeRule> rules,
                       ParseTensorTypeMap({"FFN_DOWN_EXPS=Q8_0", "blk\\.[0-9]+\\.attn_.*=q6_k"}));
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0].ToArg(), "ffn_down_exps=q8_0");
  EXPECT_EQ(rules[1].ToArg(), "blk\\.[0-9]+\\.attn_.*=q6_K");
}

TEST(TensorTypeMapTest, AnEntryLlamaQuantizeWouldRefuseIsRefusedNamingIt) {
  EXPECT_THAT(ParseTensorTypeMap({"ffn_down"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not PATTERN=TYPE")));
  EXPECT_THAT(ParseTensorTypeMap({"=q8_0"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("pattern is empty")));
  EXPECT_THAT(ParseTensorTypeMap({"ffn_(down=q8_0"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a regular expression")));
  EXPECT_THAT(ParseTensorTypeMap({"ffn_down=q9_9"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'ffn_down=q9_9'")));
  EXPECT_THAT(ParseTensorTypeMap({"ffn_down=bf16"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a quantized")));
  EXPECT_THAT(ParseTensorTypeMap({"ffn\ndown=q8_0"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("control character")));
  EXPECT_THAT(ParseTensorTypeMap(std::vector<std::string>(257, "a=q8_0")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("at most 256")));
}

TEST(TensorTypeMapTest, TypesAsAskedNormsLeftAloneAndShapeFallbacksPass) {
  Pair p = Quantized();
  ASSERT_OK_AND_ASSIGN(auto rules, ParseTensorTypeMap({"ffn_down_exps=q8_0", "norm=q8_0",
                                                       "ffn_gate_exps=q4_k"}));
  EXPECT_OK(VerifyTensorTypes(p.source, p.quantized, rules));
}

TEST(TensorTypeMapTest, ATensorOfAnotherTypeIsNamedWithTheRule) {
  Pair p = Quantized();
  ASSERT_OK_AND_ASSIGN(auto rules, ParseTensorTypeMap({"attn_q=q6_k"}));
  EXPECT_THAT(VerifyTensorTypes(p.source, p.quantized, rules),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("blk.0.attn_q.weight is q4_K, the map asked q6_K (attn_q=q6_K)")));
}

TEST(TensorTypeMapTest, TheFirstRuleThatMatchesDecidesAndARuleThatDecidesNothingFails) {
  Pair p = Quantized();
  // ffn_down_exps tensors are q8_0: the first rule decides, the second never does.
  ASSERT_OK_AND_ASSIGN(auto first, ParseTensorTypeMap({"ffn_down=q8_0", "ffn_down_exps=q4_k"}));
  EXPECT_THAT(VerifyTensorTypes(p.source, p.quantized, first),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("'ffn_down_exps=q4_K' set no tensor's type")));
  ASSERT_OK_AND_ASSIGN(auto typo, ParseTensorTypeMap({"fnn_down_exps=q8_0"}));
  EXPECT_THAT(VerifyTensorTypes(p.source, p.quantized, typo),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("fnn_down_exps")));
}

}  // namespace
}  // namespace cohort::worker::quant
