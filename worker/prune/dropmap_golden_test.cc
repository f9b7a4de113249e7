// The reference generator's golden cases (tests/data/goldens/dropmap, see its
// PROVENANCE.md): each case's argv from args.json, run with the case folder
// as the input root, must give byte-identical drop_map.json and summary.
// The card-v6coder files check the output format and overlap statistics.
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "worker/prune/dropmap.h"
#include "worker/prune/dropmap_inputs.h"
#include "worker/prune/dropmap_summary.h"

namespace cohort::worker::prune {
namespace {

std::string GoldenDir() {
  return cohort::testing::TestDataDir() + "/goldens/dropmap";
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// argparse-style split of the reference argv: "--flag v1 v2 ...".
DropMapFlags FlagsFromArgv(const std::vector<std::string>& argv) {
  DropMapFlags flags;
  std::string current;
  for (const std::string& arg : argv) {
    if (arg.rfind("--", 0) == 0) {
      current = arg.substr(2);
      flags[current].clear();
    } else {
      flags[current].push_back(arg);
    }
  }
  return flags;
}

const std::vector<std::string>& CaseNames() {
  static const auto* kCases = new std::vector<std::string>{
      "s01_tiny_max_rank_ties_shuffled",
      "s02_tiny_nan_inf_huge_keep",
      "s03_tiny_nan_inf_huge_median_allbadrow",
      "s04_tiny_outlier_drop_mean",
      "s05_tiny_outlier_zero_meannorm_sum",
      "s06_tiny_keep_finite_thresh_nan_meannorm",
      "s07_small_geomean_zero_weight_alpha1",
      "s08_small_lp4_breadth",
      "s09_small_softmax_t4_meannorm_defaultweights",
      "s10_small_second_ties",
      "s11_E128_two_classes_small_target_overflow_setorder",
      "s12_med_cardlike_floor_overflow_baseline",
      "s13_med_flat_floor_exceeds_target_v4ties",
      "s14_tiny_protect_top_exceeds_target",
      "s15_card_config_real_seed101",
      "s16_real_mean_meannorm_zero_alpha1_baseline",
      "s17_real_scoremode_mean_floortop_clamp_v4outliers",
      "s18_med_class_protect_floor_protect_strategy_sum",
      "s19_small_ndrop0_target_equals_E",
      "s20_med_classes_subset_protect_class_min",
  };
  return *kCases;
}

class DropMapGoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(DropMapGoldenTest, ByteIdentical) {
  const std::string dir = GoldenDir() + "/" + GetParam();
  const nlohmann::json args = nlohmann::json::parse(ReadAll(dir + "/args.json"));
  ASSERT_EQ(args["expected_exit_code"], 0);
  ASSERT_OK_AND_ASSIGN(
      DropMapOptions options,
      DropMapOptionsFromFlags(
          FlagsFromArgv(args["argv"].get<std::vector<std::string>>())));
  ASSERT_OK_AND_ASSIGN(DropMapResult result, GenerateDropMap(options, dir));
  EXPECT_EQ(result.drop_map_json, ReadAll(dir + "/" + result.output_path));
  EXPECT_EQ(result.summary_json, ReadAll(dir + "/" + result.summary_path));

  // The written files carry the same bytes.
  cohort::testing::TempDir out;
  ASSERT_OK(WriteDropMapResult(result, out.path()));
  EXPECT_EQ(ReadAll(out.Join(result.output_path)), result.drop_map_json);
  EXPECT_EQ(ReadAll(out.Join(result.summary_path)), result.summary_json);
}

INSTANTIATE_TEST_SUITE_P(Goldens, DropMapGoldenTest,
                         ::testing::ValuesIn(CaseNames()));

TEST(DropMapGoldenListTest, EveryCaseFolderIsListed) {
  std::vector<std::string> found;
  for (const auto& entry : std::filesystem::directory_iterator(GoldenDir())) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory() && name[0] == 's') found.push_back(name);
  }
  std::sort(found.begin(), found.end());
  EXPECT_EQ(found, CaseNames());
}

// The real card outputs (and the later floor maps, also json.dump indent=1):
// parsing and re-dumping reproduces their bytes (layout, key order, float
// repr). The baseline is left out: another script wrote it with indent=2.
TEST(DropMapCardTest, OutputFormatRoundTrips) {
  const std::string dir = GoldenDir() + "/card-v6coder/";
  for (const char* name : {"v6coder_C6v3lcb_drop_map.json",
                           "v6coder_C6v3lcb_drop_map.json.summary.json",
                           "v4_layer_floor_map_v6.json",
                           "v4_layer_floor_map_v7.json"}) {
    ASSERT_OK_AND_ASSIGN(PyValue value, ReadPyJsonFile(dir + name, name));
    EXPECT_EQ(DumpPyJson(value), ReadAll(dir + name)) << name;
  }
}

TEST(DropMapCardTest, OverlapStatisticsMatchTheCardSummary) {
  const std::string dir = GoldenDir() + "/card-v6coder/";
  ASSERT_OK_AND_ASSIGN(PyValue drop_json,
                       ReadPyJsonFile(dir + "v6coder_C6v3lcb_drop_map.json", "d"));
  ASSERT_OK_AND_ASSIGN(
      PyValue card,
      ReadPyJsonFile(dir + "v6coder_C6v3lcb_drop_map.json.summary.json", "s"));
  ASSERT_OK_AND_ASSIGN(
      PyValue base_json,
      ReadPyJsonFile(dir + "teacher_force_98e_p16_clean.json", "b"));
  ASSERT_OK_AND_ASSIGN(auto parsed, ParseBaselineDropMap(base_json, "b"));
  std::optional<std::map<int64_t, std::vector<int64_t>>> baseline = parsed;

  std::vector<std::vector<int64_t>> drop;
  for (const PyValue& layer : drop_json.items()) {
    drop.emplace_back();
    for (const PyValue& id : layer.items()) {
      drop.back().push_back(*PyIntOf(id));
    }
  }
  LayerScores agg{static_cast<int>(drop.size()), 128,
                  std::vector<double>(drop.size() * 128, 0.0)};
  std::vector<int64_t> ties(drop.size(), 0);
  DropMapOptions options;
  std::vector<std::string> classes;
  std::vector<double> weights;
  PyValue metadata;
  SummaryInputs in{&options, &classes, &weights, &metadata, &agg,
                   &drop,    &ties,    &baseline, 30};
  const PyValue mine = SummaryValue(in);
  const PyValue* card_layers = card.Find("per_layer");
  const PyValue* my_layers = mine.Find("per_layer");
  ASSERT_EQ(card_layers->keys().size(), 30u);
  for (const std::string& layer : card_layers->keys()) {
    for (const char* key : {"n_dropped", "overlap_vs_baseline",
                            "non_overlap_only_in_v5"}) {
      EXPECT_EQ(DumpPyJson(*my_layers->Find(layer)->Find(key)),
                DumpPyJson(*card_layers->Find(layer)->Find(key)))
          << "layer " << layer << " " << key;
    }
  }
  EXPECT_EQ(DumpPyJson(*mine.Find("overlap_summary")),
            DumpPyJson(*card.Find("overlap_summary")));
}

// The v6 map's floors are its top98 means rescaled into [15, 25], i.e. what
// --v4-floor-clamp 15 25 computes.
TEST(DropMapCardTest, FloorClampReproducesTheV6Map) {
  const std::string path = GoldenDir() + "/card-v6coder/v4_layer_floor_map_v6.json";
  ASSERT_OK_AND_ASSIGN(PyValue map, ReadPyJsonFile(path, "v6"));
  ASSERT_OK_AND_ASSIGN(auto plain, ParseFloorMap(map, "v6", std::nullopt, 30));
  ASSERT_OK_AND_ASSIGN(auto clamped,
                       ParseFloorMap(map, "v6", std::make_pair(int64_t{15},
                                                               int64_t{25}), 30));
  EXPECT_EQ(plain, clamped);
}

}  // namespace
}  // namespace cohort::worker::prune
