#include "worker/quant/quant_plan.h"

#include <cmath>

#include "common/testing/status_matchers.h"
#include "worker/quant/gguf_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/quant/tensor_type_map.h"

namespace cohort::worker::quant {
namespace {

using ::cohort::testing::IsOk;
using ::cohort::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

GgufTensorInfo Tensor(const std::string& name, std::vector<uint64_t> dims,
                      uint32_t type = kGgmlBF16) {
  return testing::TensorInfo(name, std::move(dims), type);
}

std::vector<const GgmlTypeInfo*> Ladder(const std::vector<std::string>& names) {
  absl::StatusOr<std::vector<const GgmlTypeInfo*>> ladder = ParseTypeLadder(names);
  EXPECT_THAT(ladder.status(), IsOk());
  return ladder.ok() ? *ladder : std::vector<const GgmlTypeInfo*>{};
}

// `n` layers of equal size (one fused gate/up and one down tensor each).
std::vector<LayerTensors> EqualLayers(int n, uint64_t elements = 1000) {
  std::vector<LayerTensors> layers;
  for (int l = 0; l < n; ++l) layers.push_back({l, elements, 8, {"ffn_down_exps"}});
  return layers;
}

std::vector<std::string> Types(const QuantPlan& plan) {
  std::vector<std::string> out;
  for (const LayerChoice& c : plan.layers) out.push_back(c.type->name);
  return out;
}

TEST(QuantPlanTest, BitsPerWeightFollowTheBlockGeometry) {
  EXPECT_DOUBLE_EQ(BitsPerWeight(*FindGgmlTypeByName("q4_K")), 4.5);
  EXPECT_DOUBLE_EQ(BitsPerWeight(*FindGgmlTypeByName("q5_K")), 5.5);
  EXPECT_DOUBLE_EQ(BitsPerWeight(*FindGgmlTypeByName("q6_K")), 6.5625);
  EXPECT_DOUBLE_EQ(BitsPerWeight(*FindGgmlTypeByName("q8_0")), 8.5);
}

TEST(QuantPlanTest, LadderIsSortedByBitsAndRefusesWhatCannotBeALevel) {
  std::vector<const GgmlTypeInfo*> ladder = Ladder({"Q8_0", "q4_k", "Q6_K"});
  ASSERT_EQ(ladder.size(), 3u);
  EXPECT_STREQ(ladder[0]->name, "q4_K");
  EXPECT_STREQ(ladder[2]->name, "q8_0");
  EXPECT_THAT(ParseTypeLadder({}).status(), StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
  EXPECT_THAT(ParseTypeLadder({"q4_K", "bf16"}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a quantized")));
  EXPECT_THAT(ParseTypeLadder({"q4_K", "q9_9"}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'q9_9'")));
  // q4_0 and q4_K are both 4.5 bits per weight: no order between them.
  EXPECT_THAT(ParseTypeLadder({"q4_0", "q4_K"}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("same bits per weight")));
}

TEST(QuantPlanTest, ExpertTensorsAreGroupedByLayerInKindOrder) {
  GgufContents gguf;
  gguf.file = "model.gguf";
  gguf.tensors = {Tensor("blk.10.ffn_down_exps.weight", {64, 32, 6}),
                  Tensor("blk.1.ffn_down_exps.weight", {64, 32, 6}),
                  Tensor("blk.1.ffn_gate_up_exps.weight", {32, 128, 6}),
                  Tensor("blk.1.attn_q.weight", {32, 32}),
                  Tensor("blk.1.ffn_down_shexp.weight", {64, 32}),
                  Tensor("token_embd.weight", {32, 100})};
  absl::StatusOr<std::vector<LayerTensors>> layers =
      GovernedTensorsByLayer(gguf, DefaultExpertKinds());
  ASSERT_THAT(layers.status(), IsOk());
  ASSERT_EQ(layers->size(), 2u);
  EXPECT_EQ((*layers)[0].layer, 1);
  EXPECT_EQ((*layers)[0].elements, 64u * 32 * 6 + 32u * 128 * 6);
  EXPECT_EQ((*layers)[0].experts, 6u);
  EXPECT_THAT((*layers)[0].kinds, ElementsAre("ffn_gate_up_exps", "ffn_down_exps"));
  EXPECT_EQ((*layers)[1].layer, 10);
}

TEST(QuantPlanTest, ExpertTensorsThatAreNotOneModelAreRefused) {
  GgufContents gguf;
  gguf.file = "model.gguf";
  gguf.tensors = {Tensor("blk.0.ffn_down_exps.weight", {64, 32})};
  EXPECT_THAT(GovernedTensorsByLayer(gguf, DefaultExpertKinds()).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("blk.0.ffn_down_exps.weight has 2 dimensions")));
  gguf.tensors = {Tensor("blk.0.ffn_down_exps.weight", {64, 32, 6}),
                  Tensor("blk.0.ffn_up_exps.weight", {32, 64, 5})};
  EXPECT_THAT(GovernedTensorsByLayer(gguf, DefaultExpertKinds()).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("has 5 experts")));
  gguf.tensors = {Tensor("blk.0.attn_q.weight", {32, 32})};
  EXPECT_THAT(GovernedTensorsByLayer(gguf, DefaultExpertKinds()).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("model.gguf: no expert tensor")));
}

TEST(QuantPlanTest, ALayersOtherMatricesMayBeGovernedWithItsExperts) {
  GgufContents gguf;
  gguf.file = "model.gguf";
  gguf.tensors = {Tensor("blk.0.attn_q.weight", {32, 32}),  // a dense layer: left out
                  Tensor("blk.0.ffn_down.weight", {64, 32}),
                  Tensor("blk.1.ffn_down_exps.weight", {64, 32, 6}),
                  Tensor("blk.1.attn_q.weight", {32, 48}),
                  Tensor("blk.1.ffn_down_shexp.weight", {64, 32}),
                  Tensor("blk.1.attn_norm.weight", {32})};
  absl::StatusOr<std::vector<LayerTensors>> layers = GovernedTensorsByLayer(
      gguf, {"ffn_down_exps", "attn_q", "ffn_down_shexp"});
  ASSERT_THAT(layers.status(), IsOk());
  ASSERT_EQ(layers->size(), 1u);
  EXPECT_EQ((*layers)[0].layer, 1);
  EXPECT_EQ((*layers)[0].experts, 6u);
  EXPECT_EQ((*layers)[0].elements, 64u * 32 * 6 + 32u * 48 + 64u * 32);
  EXPECT_THAT((*layers)[0].kinds, ElementsAre("ffn_down_exps", "attn_q", "ffn_down_shexp"));

  QuantPlanOptions options;
  options.target_bits_per_weight = 8.5;
  ASSERT_OK_AND_ASSIGN(options.ladder, ParseTypeLadder({"q4_K", "q8_0"}));
  ASSERT_OK_AND_ASSIGN(QuantPlan plan, PlanLayerTypes({0.5, 0.5}, *layers, options));
  EXPECT_THAT(PlanRules(plan),
              ElementsAre("^blk\\.1\\.(ffn_down_exps|attn_q|ffn_down_shexp)\\.weight$=q8_0"));

  // A norm is not a matrix a map may quantize.
  EXPECT_THAT(GovernedTensorsByLayer(gguf, {"ffn_down_exps", "attn_norm"}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("blk.1.attn_norm.weight has 1 dimensions; a map governs "
                                 "matrices")));
  // Other matrices alone govern nothing: no layer is ranked.
  EXPECT_THAT(GovernedTensorsByLayer(gguf, {"attn_q"}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no expert tensor")));
}

// Two classes, two layers, two experts. Class 1 has ten times class 0's
// mass; each class counts by its shares, so that does not matter.
ContributionTable SmallTable() {
  ContributionTable t;
  t.classes = 2;
  t.layers = 2;
  t.experts = 2;
  t.mass = {/*c0 l0*/ 1, 3, /*c0 l1*/ 2, 2,
            /*c1 l0*/ 10, 30, /*c1 l1*/ 20, 20};
  return t;
}

TEST(QuantPlanTest, KeptContributionIsTheWeightedShareOfEachClass) {
  // Layer 0 drops expert 1 (3 of class 0's 8, 30 of class 1's 80).
  absl::StatusOr<KeptContributionResult> r =
      KeptContribution(SmallTable(), {1.0, 3.0}, {{1}, {}});
  ASSERT_THAT(r.status(), IsOk());
  EXPECT_DOUBLE_EQ(r->by_layer[0], 1.0 * 1 / 8 + 3.0 * 10 / 80);
  EXPECT_DOUBLE_EQ(r->by_layer[1], 1.0 * 4 / 8 + 3.0 * 40 / 80);
  EXPECT_EQ(r->unusable_cells, 0u);
  // Scaling one class's mass changes nothing.
  ContributionTable scaled = SmallTable();
  for (int i = 4; i < 8; ++i) scaled.mass[i] *= 1000;
  absl::StatusOr<KeptContributionResult> same = KeptContribution(scaled, {1.0, 3.0}, {{1}, {}});
  ASSERT_THAT(same.status(), IsOk());
  EXPECT_DOUBLE_EQ(same->by_layer[0], r->by_layer[0]);
}

TEST(QuantPlanTest, UnusableCellsCountAsNoMass) {
  ContributionTable t = SmallTable();
  t.mass[1] = std::nan("");
  t.mass[2] = -5;
  absl::StatusOr<KeptContributionResult> r = KeptContribution(t, {1.0, 0.0}, {});
  ASSERT_THAT(r.status(), IsOk());
  EXPECT_EQ(r->unusable_cells, 2u);
  EXPECT_DOUBLE_EQ(r->by_layer[0], 1.0 / 3);  // of 1 + 2 usable
  EXPECT_DOUBLE_EQ(r->by_layer[1], 2.0 / 3);
}

TEST(QuantPlanTest, KeptContributionRefusesBadWeightsAndIds) {
  EXPECT_THAT(KeptContribution(SmallTable(), {1.0}, {}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("1 class weights for 2")));
  EXPECT_THAT(KeptContribution(SmallTable(), {0.0, 0.0}, {}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("every class weight is 0")));
  EXPECT_THAT(KeptContribution(SmallTable(), {1.0, -1.0}, {}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
  EXPECT_THAT(KeptContribution(SmallTable(), {1.0, 1.0}, {{}, {2}}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("drops expert 2")));
}

TEST(QuantPlanTest, MoreImportantLayersGetMoreBitsWithinTheTarget) {
  std::vector<const GgmlTypeInfo*> ladder = Ladder({"q4_K", "q6_K", "q8_0"});
  std::vector<double> importance = {1.0, 4.0, 2.0, 0.5};
  QuantPlanOptions options{6.0, ladder};
  absl::StatusOr<QuantPlan> plan = PlanLayerTypes(importance, EqualLayers(4), options);
  ASSERT_THAT(plan.status(), IsOk());
  EXPECT_LE(plan->bits_per_weight, 6.0);
  // Bits follow importance: layer 1 > layer 2 > layer 0 > layer 3.
  auto bits = [&](int l) { return BitsPerWeight(*plan->layers[l].type); };
  EXPECT_GE(bits(1), bits(2));
  EXPECT_GE(bits(2), bits(0));
  EXPECT_GE(bits(0), bits(3));
  EXPECT_GT(bits(1), bits(3));
  // The budget is used up: no single further upgrade fits.
  for (const LayerChoice& c : plan->layers) {
    if (c.type == ladder.back()) continue;
    size_t next = 0;
    while (ladder[next] != c.type) ++next;
    double extra = (BitsPerWeight(*ladder[next + 1]) - BitsPerWeight(*c.type)) / 4;
    EXPECT_GT(plan->bits_per_weight + extra, 6.0) << "layer " << c.tensors.layer;
  }
}

TEST(QuantPlanTest, TargetsAtTheEndsOfTheLadder) {
  std::vector<const GgmlTypeInfo*> ladder = Ladder({"q4_K", "q6_K", "q8_0"});
  std::vector<double> importance = {1, 2, 3};
  absl::StatusOr<QuantPlan> low = PlanLayerTypes(importance, EqualLayers(3), {4.5, ladder});
  ASSERT_THAT(low.status(), IsOk());
  EXPECT_THAT(Types(*low), ElementsAre("q4_K", "q4_K", "q4_K"));
  absl::StatusOr<QuantPlan> high = PlanLayerTypes(importance, EqualLayers(3), {9.0, ladder});
  ASSERT_THAT(high.status(), IsOk());
  EXPECT_THAT(Types(*high), ElementsAre("q8_0", "q8_0", "q8_0"));
  EXPECT_DOUBLE_EQ(high->bits_per_weight, 8.5);
  EXPECT_THAT(PlanLayerTypes(importance, EqualLayers(3), {4.0, ladder}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("below the lowest type")));
  EXPECT_THAT(PlanLayerTypes(importance, EqualLayers(4), {6.0, ladder}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("expert layer 3")));
}

TEST(QuantPlanTest, TheBudgetCountsEachLayersSize) {
  // Layer 0 is as important as layer 1 but three times its size: upgrading
  // it costs three times the bits for the same error, so layer 1 goes first.
  std::vector<LayerTensors> layers = {{0, 3000, 8, {"ffn_down_exps"}},
                                      {1, 1000, 8, {"ffn_down_exps"}}};
  absl::StatusOr<QuantPlan> plan =
      PlanLayerTypes({1.0, 1.0}, layers, {5.5, Ladder({"q4_K", "q8_0"})});
  ASSERT_THAT(plan.status(), IsOk());
  EXPECT_THAT(Types(*plan), ElementsAre("q4_K", "q8_0"));
  EXPECT_DOUBLE_EQ(plan->bits_per_weight, (3000 * 4.5 + 1000 * 8.5) / 4000);
}

TEST(QuantPlanTest, RulesMatchTheirLayerAndNoOther) {
  // Layers 1, 10 and 11: a loose "blk.1." pattern would also take 10 and 11.
  std::vector<LayerTensors> layers = {{1, 1000, 8, {"ffn_gate_up_exps", "ffn_down_exps"}},
                                      {10, 1000, 8, {"ffn_gate_up_exps", "ffn_down_exps"}},
                                      {11, 1000, 8, {"ffn_gate_up_exps", "ffn_down_exps"}}};
  std::vector<double> importance(12, 0.0);
  importance[1] = 5;
  absl::StatusOr<QuantPlan> plan =
      PlanLayerTypes(importance, layers, {5.9, Ladder({"q4_K", "q8_0"})});
  ASSERT_THAT(plan.status(), IsOk());
  EXPECT_THAT(Types(*plan), ElementsAre("q8_0", "q4_K", "q4_K"));
  std::vector<std::string> rules = PlanRules(*plan);
  EXPECT_EQ(rules[0], "^blk\\.1\\.(ffn_gate_up_exps|ffn_down_exps)\\.weight$=q8_0");
  absl::StatusOr<std::vector<TensorTypeRule>> parsed = ParseTensorTypeMap(rules);
  ASSERT_THAT(parsed.status(), IsOk());

  GgufContents source, quantized;
  for (int l : {1, 10, 11}) {
    for (const char* kind : {"ffn_gate_up_exps", "ffn_down_exps"}) {
      std::string name = "blk." + std::to_string(l) + "." + kind + ".weight";
      source.tensors.push_back(Tensor(name, {256, 64, 8}));
      quantized.tensors.push_back(
          Tensor(name, {256, 64, 8}, l == 1 ? kGgmlQ8_0 : FindGgmlTypeByName("q4_K")->id));
    }
  }
  EXPECT_THAT(VerifyTensorTypes(source, quantized, *parsed), IsOk());
  quantized.tensors[2].type = kGgmlQ8_0;  // blk.10's gate/up at layer 1's type
  quantized.tensors[2].type_info = FindGgmlType(kGgmlQ8_0);
  EXPECT_THAT(VerifyTensorTypes(source, quantized, *parsed),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("blk.10.ffn_gate_up_exps.weight")));
}

TEST(QuantPlanTest, JsonRecordsTheLadderTargetAndEachLayer) {
  absl::StatusOr<QuantPlan> plan =
      PlanLayerTypes({1.0, 2.0}, EqualLayers(2), {6.5, Ladder({"q4_K", "q8_0"})});
  ASSERT_THAT(plan.status(), IsOk());
  nlohmann::json j = QuantMapSummaryToJson(SummarizePlan(*plan));
  EXPECT_EQ(j["types"], nlohmann::json({"q4_K", "q8_0"}));
  EXPECT_EQ(j["target_bits_per_weight"], 6.5);
  EXPECT_EQ(j["bits_per_weight"], 6.5);
  EXPECT_EQ(j["layers"][1]["type"], "q8_0");
  EXPECT_EQ(j["layers"][1]["kept_contribution"], 2.0);
  EXPECT_EQ(j["rules"].size(), 2u);
}

TEST(QuantMapSummaryTest, EveryFieldRoundTrips) {
  QuantMapSummary s;
  s.types = {"q4_K", "q6_K"};
  s.target_bits_per_weight = 5.25;
  s.bits_per_weight = 5.125;
  s.layers = {{3, 0.75, 98, 123456789012ull, "q6_K"}, {4, 0.5, 97, 42, "q4_K"}};
  s.rules = {"blk\\.3\\.ffn_(gate|up|down)_exps\\.weight=q6_K"};
  s.classes = {"code", "math"};
  s.class_weights = {1.0, 3.5};
  s.contribution = "wnorm";
  s.unusable_cells = 7;
  const nlohmann::json text = nlohmann::json::parse(QuantMapSummaryToJson(s).dump(1));
  ASSERT_OK_AND_ASSIGN(QuantMapSummary back, QuantMapSummaryFromJson(text, "quant_map.json"));
  EXPECT_EQ(back.types, s.types);
  EXPECT_EQ(back.target_bits_per_weight, s.target_bits_per_weight);
  EXPECT_EQ(back.bits_per_weight, s.bits_per_weight);
  ASSERT_EQ(back.layers.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(back.layers[i].layer, s.layers[i].layer);
    EXPECT_EQ(back.layers[i].kept_contribution, s.layers[i].kept_contribution);
    EXPECT_EQ(back.layers[i].experts, s.layers[i].experts);
    EXPECT_EQ(back.layers[i].elements, s.layers[i].elements);
    EXPECT_EQ(back.layers[i].type, s.layers[i].type);
  }
  EXPECT_EQ(back.rules, s.rules);
  EXPECT_EQ(back.classes, s.classes);
  EXPECT_EQ(back.class_weights, s.class_weights);
  EXPECT_EQ(back.contribution, s.contribution);
  EXPECT_EQ(back.unusable_cells, s.unusable_cells);

  nlohmann::json bad = text;
  bad["layers"][1].erase("type");
  EXPECT_THAT(QuantMapSummaryFromJson(bad, "quant_map.json").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("quant_map.json.layers[1].type is missing")));
}

}  // namespace
}  // namespace cohort::worker::quant
