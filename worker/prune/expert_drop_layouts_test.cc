// Every layout of the table, on a synthetic checkpoint of that layout:
// synth-model -> prune -> the output is checked tensor by tensor against the
// input (kept rows / renumbered experts / untouched copies) and by inspect.
#include <map>
#include <memory>
#include <string>

#include "common/atomic_file.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "worker/prune/expert_drop.h"
#include "worker/prune/inspect.h"
#include "worker/prune/layout.h"
#include "worker/prune/synth_model.h"

namespace cohort::worker::prune {
namespace {

using ::cohort::testing::StatusIs;
using ::cohort::testing::TempDir;
using ::testing::HasSubstr;

SynthOptions Tiny(const std::string& layout, const std::string& dir) {
  SynthOptions o;
  o.layout = layout;
  o.output_dir = dir + "/in";
  o.layers = 3;
  o.experts = 8;
  o.top_k = 2;
  o.drop_map_out = dir + "/drop.json";
  o.drop_count = 2;
  o.shards = 3;
  return o;
}

struct Checkpoint {
  std::unique_ptr<ModelIndex> index;
  OpenShards shards;
  const SafetensorsFile* Shard(const std::string& tensor) const {
    for (const auto& [name, shard] : index->weight_map) {
      if (name == tensor) return shards.at(shard).get();
    }
    return nullptr;
  }
  std::string Bytes(const std::string& tensor) const {
    const SafetensorsFile* f = Shard(tensor);
    if (f == nullptr) return "<absent>";
    return std::string(f->Data(*f->Find(tensor)));
  }
};

Checkpoint Load(const std::string& dir) {
  Checkpoint c;
  auto index = ReadModelIndex(dir);
  EXPECT_TRUE(index.ok()) << index.status();
  c.index = std::make_unique<ModelIndex>(*index);
  auto shards = OpenIndexShards(dir, *c.index);
  EXPECT_TRUE(shards.ok()) << shards.status();
  c.shards = std::move(*shards);
  return c;
}

// Checks each input tensor's fate against the keep lists.
void ExpectDataMoved(const LayoutSpec& layout, const Checkpoint& in,
                     const Checkpoint& out,
                     const std::map<int, std::vector<int>>& keep) {
  for (const auto& [name, shard] : in.index->weight_map) {
    std::string bytes = in.Bytes(name);
    std::optional<RuleMatch> m = MatchTensor(layout, name);
    if (!m) {
      EXPECT_TRUE(out.Bytes(name) == bytes) << name;
      continue;
    }
    const std::vector<int>& k = keep.at(m->layer);
    if (m->rule->role == TensorRole::kPerExpert) {
      auto it = std::find(k.begin(), k.end(), m->expert);
      if (it == k.end()) continue;  // dropped (renamed names checked below)
      std::string renamed = RenumberExpert(name, *m, static_cast<int>(it - k.begin()));
      EXPECT_TRUE(out.Bytes(renamed) == bytes) << name << " -> " << renamed;
      continue;
    }
    const TensorInfo* info = in.Shard(name)->Find(name);
    size_t row = bytes.size() / info->shape[0];
    std::string want;
    for (int e : k) want += bytes.substr(e * row, row);
    EXPECT_TRUE(out.Bytes(name) == want) << name;
  }
}

std::map<int, std::vector<int>> KeepFrom(const std::string& drop_path, int experts) {
  auto drop = ReadExpertDropMap(drop_path);
  EXPECT_TRUE(drop.ok());
  std::map<int, std::vector<int>> keep;
  for (const auto& [layer, ids] : drop->layers) {
    for (int e = 0; e < experts; ++e) {
      if (std::find(ids.begin(), ids.end(), e) == ids.end()) keep[layer].push_back(e);
    }
  }
  return keep;
}

class LayoutDropTest : public ::testing::TestWithParam<std::string> {};

TEST_P(LayoutDropTest, SyntheticCheckpointDropsExactly) {
  TempDir tmp;
  SynthOptions synth = Tiny(GetParam(), tmp.path());
  if (GetParam() == "gptoss") synth.moe_intermediate = 32;
  ASSERT_OK(SynthesizeModel(synth).status());
  ASSERT_OK_AND_ASSIGN(InspectReport before, InspectCheckpoint(synth.output_dir, ""));
  EXPECT_EQ(before.layout, GetParam());
  EXPECT_TRUE(before.problems.empty()) << FormatInspectText(before);
  PruneOptions options;
  options.source_dir = synth.output_dir;
  options.drop_map = synth.drop_map_out;
  options.output_dir = tmp.Join("out");
  options.max_shard_bytes = 40000;  // exercise the re-sharding
  ASSERT_OK_AND_ASSIGN(PruneResult result, PruneCheckpoint(options));
  EXPECT_EQ(result.layout, GetParam());
  EXPECT_EQ(result.target_experts, 6);
  EXPECT_GT(result.shards, 1);
  ASSERT_OK_AND_ASSIGN(InspectReport after, InspectCheckpoint(options.output_dir, ""));
  EXPECT_TRUE(after.problems.empty()) << FormatInspectText(after);
  EXPECT_EQ(after.config_experts, 6);
  EXPECT_EQ(after.moe_layers.size(), before.moe_layers.size());
  for (const InspectLayer& l : after.moe_layers) EXPECT_EQ(l.experts, 6);
  ASSERT_OK_AND_ASSIGN(const LayoutSpec* layout, FindLayout(GetParam()));
  Checkpoint in = Load(synth.output_dir), out = Load(options.output_dir);
  ExpectDataMoved(*layout, in, out, KeepFrom(synth.drop_map_out, 8));
}

INSTANTIATE_TEST_SUITE_P(Layouts, LayoutDropTest,
                         ::testing::Values("gemma4", "mixtral", "qwen3moe",
                                           "deepseekv3", "gptoss", "llama4"));

TEST(LayoutDropTest, PerExpertNamesAreDense) {
  TempDir tmp;
  SynthOptions synth = Tiny("mixtral", tmp.path());
  ASSERT_OK(SynthesizeModel(synth).status());
  PruneOptions options;
  options.source_dir = synth.output_dir;
  options.drop_map = synth.drop_map_out;
  options.output_dir = tmp.Join("out");
  ASSERT_OK(PruneCheckpoint(options).status());
  Checkpoint out = Load(options.output_dir);
  EXPECT_NE(out.Shard("model.layers.0.block_sparse_moe.experts.5.w2.weight"), nullptr);
  EXPECT_EQ(out.Shard("model.layers.0.block_sparse_moe.experts.6.w2.weight"), nullptr);
}

TEST(LayoutDropTest, QwenSharedExpertGateIsCopied) {
  TempDir tmp;
  SynthOptions synth = Tiny("qwen3moe", tmp.path());
  ASSERT_OK(SynthesizeModel(synth).status());
  PruneOptions options;
  options.source_dir = synth.output_dir;
  options.drop_map = synth.drop_map_out;
  options.output_dir = tmp.Join("out");
  options.upweight = FusedUpweight{1.5, "mlp.shared_expert.down_proj.weight"};
  ASSERT_OK_AND_ASSIGN(PruneResult result, PruneCheckpoint(options));
  EXPECT_EQ(result.upweighted_tensors, 3);
  Checkpoint in = Load(synth.output_dir), out = Load(options.output_dir);
  EXPECT_TRUE(out.Bytes("model.layers.1.mlp.shared_expert_gate.weight") ==
              in.Bytes("model.layers.1.mlp.shared_expert_gate.weight"));
  EXPECT_FALSE(out.Bytes("model.layers.1.mlp.shared_expert.down_proj.weight") ==
               in.Bytes("model.layers.1.mlp.shared_expert.down_proj.weight"));
}

TEST(LayoutDropTest, DeepseekGroupLimitedRoutingNeedsEvenDrops) {
  TempDir tmp;
  SynthOptions synth = Tiny("deepseekv3", tmp.path());
  synth.n_group = 2;
  ASSERT_OK(SynthesizeModel(synth).status());
  PruneOptions options;
  options.source_dir = synth.output_dir;
  options.drop_map = synth.drop_map_out;
  options.output_dir = tmp.Join("out");
  EXPECT_THAT(PruneCheckpoint(options).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("--even-group-drop")));
  // Both drops of layer 1 from group 0: refused even with the flag.
  ASSERT_OK(WriteFileAtomically(tmp.Join("uneven.json"),
                                "{\"1\": [0, 1], \"2\": [0, 5]}"));
  options.drop_map = tmp.Join("uneven.json");
  options.even_group_drop = true;
  EXPECT_THAT(PruneCheckpoint(options).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("group 0")));
  options.drop_map = synth.drop_map_out;
  ASSERT_OK(PruneCheckpoint(options).status());
  ASSERT_OK_AND_ASSIGN(InspectReport after, InspectCheckpoint(options.output_dir, ""));
  EXPECT_TRUE(after.problems.empty()) << FormatInspectText(after);
  // The FP8 blocks stay declared (a converter dequantizes by them).
  ASSERT_OK_AND_ASSIGN(std::string config,
                       ReadFileToString(options.output_dir + "/config.json"));
  nlohmann::json pruned = nlohmann::json::parse(config);
  EXPECT_EQ(pruned["quantization_config"]["quant_method"], "fp8");
  EXPECT_EQ(pruned["quantization_config"]["weight_block_size"], nlohmann::json({128, 128}));
}

TEST(LayoutDropTest, DropMapErrorsNameTheLayer) {
  TempDir tmp;
  SynthOptions synth = Tiny("gemma4", tmp.path());
  ASSERT_OK(SynthesizeModel(synth).status());
  PruneOptions options;
  options.source_dir = synth.output_dir;
  options.drop_map = tmp.Join("d.json");
  options.output_dir = tmp.Join("out");
  auto run = [&](const std::string& json) {
    EXPECT_OK(WriteFileAtomically(tmp.Join("d.json"), json));
    return PruneCheckpoint(options).status();
  };
  EXPECT_THAT(run("{\"0\": [1], \"1\": [1]}"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("layer 2")));
  EXPECT_THAT(run("{\"0\": [1], \"1\": [1, 2], \"2\": [3]}"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("layer 1 drops 2")));
  EXPECT_THAT(run("{\"0\": [9], \"1\": [1], \"2\": [3]}"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("outside")));
  // The first id past the end (8 of experts 0..7) is outside too.
  EXPECT_THAT(run("{\"0\": [8], \"1\": [1], \"2\": [3]}"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("outside")));
  EXPECT_THAT(run("{\"0\": [1], \"1\": [1], \"2\": [3], \"7\": [1]}"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("layer 7")));
  EXPECT_THAT(run("{\"0\": [0,1,2,3,4,5,6], \"1\": [0,1,2,3,4,5,6], \"2\": [0,1,2,3,4,5,6]}"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("top_k_experts")));
}

TEST(SynthModelTest, DeterministicAcrossRuns) {
  TempDir tmp;
  SynthOptions a = Tiny("gptoss", tmp.path());
  SynthOptions b = a;
  b.output_dir = tmp.Join("in2");
  b.drop_map_out = tmp.Join("drop2.json");
  ASSERT_OK(SynthesizeModel(a).status());
  ASSERT_OK(SynthesizeModel(b).status());
  for (const char* f : {"model-00001-of-00003.safetensors",
                        "model-00003-of-00003.safetensors", "config.json",
                        "model.safetensors.index.json"}) {
    EXPECT_TRUE(*ReadFileToString(a.output_dir + "/" + f) ==
                *ReadFileToString(b.output_dir + "/" + f)) << f;
  }
  EXPECT_EQ(*ReadFileToString(a.drop_map_out), *ReadFileToString(b.drop_map_out));
}

TEST(InspectTest, FlagsConfigThatDisagreesWithTensors) {
  TempDir tmp;
  SynthOptions synth = Tiny("llama4", tmp.path());
  ASSERT_OK(SynthesizeModel(synth).status());
  std::string config = *ReadFileToString(synth.output_dir + "/config.json");
  size_t at = config.find("\"num_local_experts\": 8");
  ASSERT_NE(at, std::string::npos);
  config.replace(at, 22, "\"num_local_experts\": 6");
  ASSERT_OK(WriteFileAtomically(synth.output_dir + "/config.json", config));
  ASSERT_OK_AND_ASSIGN(InspectReport report, InspectCheckpoint(synth.output_dir, ""));
  ASSERT_FALSE(report.problems.empty());
  EXPECT_THAT(report.problems[0], HasSubstr("config says 6"));
}

}  // namespace
}  // namespace cohort::worker::prune
