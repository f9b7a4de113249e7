// `cohort-worker quantmap` on a golden drop-map case (its contribution file,
// the drop map and summary the reference generator wrote) and a GGUF with
// the pruned expert counts: the map it writes, checked against a
// contribution share computed here from the JSON, and its refusals.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "common/testing/temp_dir.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "worker/quant/gguf_writer.h"
#include "worker/quant/tensor_type_map.h"
#include "worker/tools/commands.h"

namespace cohort::worker {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int RunQuantmap(const std::vector<std::string>& argv) {
  std::vector<std::string> full = {"cohort-worker", "quantmap"};
  full.insert(full.end(), argv.begin(), argv.end());
  std::vector<const char*> c_argv;
  for (const std::string& a : full) c_argv.push_back(a.c_str());
  CLI::App app;
  CommandFn selected;
  AddQuantmapCommand(app, &selected);
  try {
    app.parse(static_cast<int>(c_argv.size()), c_argv.data());
  } catch (const CLI::ParseError&) {
    return kExitBadInput;
  }
  return selected ? selected() : kExitBadInput;
}

// s18: 4 layers of 32 experts, 8 dropped in each.
class QuantmapCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string golden = cohort::testing::TestDataDir() +
                               "/goldens/dropmap/s18_med_class_protect_floor_protect_strategy_sum";
    contrib_ = golden + "/contrib_v5.json";
    fs::copy_file(golden + "/drop_map.json", work_.Join("drop_map.json"));
    fs::copy_file(golden + "/drop_map.json.summary.json",
                  work_.Join("drop_map.json.summary.json"));
    ASSERT_TRUE(WriteModel(work_.Join("model.gguf"), 24).ok());
  }

  // Expert tensors of `experts` experts per layer, plus tensors a map leaves.
  static absl::Status WriteModel(const std::string& path, uint64_t experts) {
    quant::GgufWriter writer;
    writer.SetString("general.architecture", "gemma4");
    for (int l = 0; l < 4; ++l) {
      std::string blk = "blk." + std::to_string(l) + ".";
      absl::Status s = writer.AddTensor(blk + "ffn_gate_up_exps.weight", quant::kGgmlBF16,
                                        {256, 32, experts});
      if (s.ok()) s = writer.AddTensor(blk + "ffn_down_exps.weight", quant::kGgmlBF16,
                                       {256, 16, experts});
      if (s.ok()) s = writer.AddTensor(blk + "attn_q.weight", quant::kGgmlBF16, {256, 256});
      if (!s.ok()) return s;
    }
    return writer.WriteFile(path);
  }

  std::vector<std::string> Args(const std::string& target) {
    return {"--data", contrib_, "--drop-map", work_.Join("drop_map.json"),
            "--gguf", work_.Join("model.gguf"), "--target-bpw", target,
            "--output", work_.Join("tensor_types.txt"),
            "--summary-output", work_.Join("quant_map.json")};
  }

  // sum_c w_c * (kept wnorm of layer l in c / all wnorm of c), from the JSON.
  std::vector<double> ExpectedShares() {
    json contrib = json::parse(ReadAll(contrib_));
    json drop = json::parse(ReadAll(work_.Join("drop_map.json")));
    // The summary is Python's JSON: outlier_wnorm_thresh may be Infinity.
    std::string text = ReadAll(work_.Join("drop_map.json.summary.json"));
    for (size_t at; (at = text.find("Infinity")) != std::string::npos;) {
      text.replace(at, 8, "null");
    }
    json summary = json::parse(text);
    std::vector<double> shares(4, 0.0);
    for (size_t c = 0; c < summary["classes_used"].size(); ++c) {
      const json& rows = contrib["categories"][summary["classes_used"][c].get<std::string>()];
      double total = 0;
      std::vector<double> kept(4, 0.0);
      for (int l = 0; l < 4; ++l) {
        const json& dropped = drop[std::to_string(l)];
        for (const json& cell : rows[std::to_string(l)]) {
          double m = cell["wnorm"].get<double>();
          total += m;
          bool is_dropped = std::find(dropped.begin(), dropped.end(), cell["id"]) != dropped.end();
          if (!is_dropped) kept[l] += m;
        }
      }
      for (int l = 0; l < 4; ++l) {
        shares[l] += summary["weights_used"][c].get<double>() * kept[l] / total;
      }
    }
    return shares;
  }

  cohort::testing::TempDir work_;
  std::string contrib_;
};

TEST_F(QuantmapCommandTest, WritesOneRulePerLayerWithinTheTarget) {
  ASSERT_EQ(RunQuantmap(Args("6")), kExitOk);
  json summary = json::parse(ReadAll(work_.Join("quant_map.json")));
  EXPECT_LE(summary["bits_per_weight"].get<double>(), 6.0);
  EXPECT_GT(summary["bits_per_weight"].get<double>(), 4.5);
  EXPECT_EQ(summary["contribution"], "wnorm");
  EXPECT_EQ(summary["class_weights"], json({1.0, 1.0, 1.0, 1.0, 1.0, 3.0}));
  std::vector<double> expected = ExpectedShares();
  ASSERT_EQ(summary["layers"].size(), 4u);
  for (int l = 0; l < 4; ++l) {
    const json& layer = summary["layers"][l];
    EXPECT_EQ(layer["layer"], l);
    EXPECT_EQ(layer["experts"], 24);
    EXPECT_NEAR(layer["kept_contribution"].get<double>(), expected[l], 1e-12) << l;
  }
  // The layer with the most kept contribution has at least every other's bits.
  int top = static_cast<int>(std::max_element(expected.begin(), expected.end()) -
                             expected.begin());
  const auto* top_type = quant::FindGgmlTypeByName(
      summary["layers"][top]["type"].get<std::string>());
  for (const json& layer : summary["layers"]) {
    EXPECT_GE(top_type->type_size * 1.0 / top_type->block_size,
              quant::FindGgmlTypeByName(layer["type"].get<std::string>())->type_size * 1.0 /
                  quant::FindGgmlTypeByName(layer["type"].get<std::string>())->block_size);
  }

  // The file is what llama-quantize --tensor-type-file reads: whitespace
  // separated PATTERN=TYPE, each a rule our parser accepts.
  std::istringstream file(ReadAll(work_.Join("tensor_types.txt")));
  std::vector<std::string> rules;
  for (std::string rule; file >> rule;) rules.push_back(rule);
  EXPECT_EQ(rules, summary["rules"].get<std::vector<std::string>>());
  ASSERT_EQ(rules.size(), 4u);
  EXPECT_EQ(rules[0].rfind("^blk\\.0\\.(ffn_gate_up_exps|ffn_down_exps)\\.weight$=", 0), 0u);
  EXPECT_TRUE(quant::ParseTensorTypeMap(rules).ok());
}

TEST_F(QuantmapCommandTest, AModelTheDropMapDidNotMakeIsRefused) {
  ASSERT_TRUE(WriteModel(work_.Join("model.gguf"), 25).ok());
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(RunQuantmap(Args("6")), kExitBadInput);
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("layer 0 has 25 experts"), std::string::npos) << err;
  EXPECT_NE(err.find("keeps 24 of 32"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(work_.Join("tensor_types.txt")));
  EXPECT_FALSE(fs::exists(work_.Join("quant_map.json")));
}

TEST_F(QuantmapCommandTest, ATargetNoTypeReachesIsRefused) {
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(RunQuantmap(Args("3.5")), kExitBadInput);
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("below the lowest type, q4_K"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(work_.Join("tensor_types.txt")));
}

TEST_F(QuantmapCommandTest, ADropMapWithoutItsSummaryIsRefusedByName) {
  fs::remove(work_.Join("drop_map.json.summary.json"));
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(RunQuantmap(Args("6")), kExitBadInput);
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("drop_map.json.summary.json"), std::string::npos) << err;
}

}  // namespace
}  // namespace cohort::worker
