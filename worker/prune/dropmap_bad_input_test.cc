// Bad input to the drop-map generator: every case fails with
// kInvalidArgument naming the file, the layer/class and the field or flag, and
// nothing is written. Also a small end-to-end run on synthetic data.
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/prune/dropmap.h"

namespace cohort::worker::prune {
namespace {

using ::cohort::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr int kLayers = 2;
constexpr int kExperts = 4;

// Cells of one (class, layer) row, editable before serialisation.
using RowEdit = std::function<void(const std::string& cls, int layer,
                                   std::vector<std::string>* cells)>;

std::string Cell(int id, double wnorm, int tc) {
  return absl::StrCat("{\"id\": ", id, ", \"wnorm\": ", wnorm, ", \"tc\": ", tc,
                      ", \"neuron_act\": [0.5, NaN, -Infinity, [1, \"]\"]]}");
}

std::string Contrib(const RowEdit& edit) {
  const std::vector<std::string> classes = {"generic_math", "generic_code"};
  std::string out = absl::StrCat(
      "{\"metadata\": {\"num_layers\": ", kLayers, ", \"num_experts\": ",
      kExperts, ", \"categories\": [\"generic_math\", \"generic_code\"]},",
      " \"categories\": {");
  for (size_t c = 0; c < classes.size(); ++c) {
    absl::StrAppend(&out, c ? ", " : "", "\"", classes[c], "\": {");
    for (int l = 0; l < kLayers; ++l) {
      std::vector<std::string> cells;
      for (int e = 0; e < kExperts; ++e) {
        cells.push_back(Cell(e, 1.5 * ((e * 7 + l * 3 + c) % 5), e + l));
      }
      if (edit) edit(classes[c], l, &cells);
      absl::StrAppend(&out, l ? ", " : "", "\"", l, "\": [");
      for (size_t i = 0; i < cells.size(); ++i) {
        absl::StrAppend(&out, i ? ", " : "", cells[i]);
      }
      out += "]";
    }
    out += "}";
  }
  return out + "}}";
}

class DropMapBadInputTest : public ::testing::Test {
 protected:
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_.Join(name)) << text;
  }
  DropMapOptions Options() {
    DropMapOptions o;
    o.data = "contrib.json";
    o.target = 3;
    o.protect_top = 1;
    o.output = "out/drop_map.json";
    return o;
  }
  // Runs generate + write as the command does; returns the error.
  absl::Status Run(const DropMapOptions& o) {
    absl::StatusOr<DropMapResult> result = GenerateDropMap(o, dir_.path());
    if (!result.ok()) return result.status();
    return WriteDropMapResult(*result, dir_.path());
  }
  void ExpectFailsNaming(const DropMapOptions& o,
                         const std::vector<std::string>& parts) {
    absl::Status status = Run(o);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    for (const std::string& part : parts) {
      EXPECT_THAT(std::string(status.message()), HasSubstr(part));
    }
    EXPECT_FALSE(std::filesystem::exists(dir_.Join("out")));
  }
  cohort::testing::TempDir dir_;
};

TEST_F(DropMapBadInputTest, ValidInputRunsAndWritesBothFiles) {
  Write("contrib.json", Contrib(nullptr));
  ASSERT_OK(Run(Options()));
  EXPECT_TRUE(std::filesystem::exists(dir_.Join("out/drop_map.json")));
  EXPECT_TRUE(
      std::filesystem::exists(dir_.Join("out/drop_map.json.summary.json")));
}

// Deliberate difference (docs/pruning.md §6): the reference crashes here after
// writing the drop map; the port writes the summary with zero overlaps.
TEST_F(DropMapBadInputTest, NoDropsWithBaselineStillWritesSummary) {
  Write("contrib.json", Contrib(nullptr));
  Write("base.json", R"({"0": [1], "1": []})");
  DropMapOptions o = Options();
  o.target = kExperts;
  o.baseline_drop_map = "base.json";
  ASSERT_OK_AND_ASSIGN(DropMapResult result, GenerateDropMap(o, dir_.path()));
  EXPECT_EQ(result.drop_map_json, "{\n \"0\": [],\n \"1\": []\n}");
  EXPECT_THAT(result.summary_json,
              HasSubstr("\"overlap_vs_baseline\": 0,\n   "
                        "\"non_overlap_only_in_v5\": []\n  }"));
  EXPECT_THAT(result.summary_json,
              HasSubstr("\"overlap_summary\": {\n  \"mean_overlap_per_layer\": "
                        "0.0,\n  \"min\": 0,\n  \"max\": 0,\n  \"n_drop\": 0\n }"));
}

TEST_F(DropMapBadInputTest, ClassMissing) {
  Write("contrib.json", Contrib(nullptr));
  DropMapOptions o = Options();
  o.classes = std::vector<std::string>{"generic_math", "generic_logic"};
  ExpectFailsNaming(o, {"--classes", "contrib.json", "metadata.categories",
                        "generic_logic"});
  std::string text = Contrib(nullptr);
  text.replace(text.find("\"generic_code\": {"), 14, "\"generic_kode\"");
  Write("contrib.json", text);
  ExpectFailsNaming(Options(), {"contrib.json", "class \"generic_code\"",
                                "field \"categories.generic_code\""});
}

TEST_F(DropMapBadInputTest, WrongCellCount) {
  Write("contrib.json", Contrib([](const std::string& cls, int l, auto* cells) {
          if (cls == "generic_code" && l == 1) cells->pop_back();
        }));
  ExpectFailsNaming(Options(), {"contrib.json", "layer 1",
                                "categories.generic_code.1", "3 cells"});
}

TEST_F(DropMapBadInputTest, DuplicateId) {
  Write("contrib.json", Contrib([](const std::string& cls, int l, auto* cells) {
          if (cls == "generic_math" && l == 0) (*cells)[2] = Cell(1, 2.0, 3);
        }));
  ExpectFailsNaming(Options(), {"contrib.json", "layer 0", "field \"id\"",
                                "duplicate id 1"});
}

TEST_F(DropMapBadInputTest, OutOfRangeId) {
  Write("contrib.json", Contrib([](const std::string& cls, int l, auto* cells) {
          if (cls == "generic_code" && l == 1) (*cells)[0] = Cell(-1, 2.0, 3);
        }));
  ExpectFailsNaming(Options(), {"contrib.json", "layer 1", "field \"id\"",
                                "out of range"});
}

TEST_F(DropMapBadInputTest, ClassWeightCount) {
  Write("contrib.json", Contrib(nullptr));
  DropMapOptions o = Options();
  o.class_weights = std::vector<std::string>{"1", "2", "3"};
  ExpectFailsNaming(o, {"--class-weights", "3 values for 2 classes",
                        "contrib.json"});
  o = Options();
  o.protect_strategy = "sum";
  o.protect_class_weights = std::vector<std::string>{"1"};
  ExpectFailsNaming(o, {"--protect-class-weights", "contrib.json"});
}

TEST_F(DropMapBadInputTest, FloorMapNamesMissingLayer) {
  Write("contrib.json", Contrib(nullptr));
  Write("v4.json", Contrib(nullptr));
  Write("floor.json", R"({"floor_per_layer": {"0": 2, "5": 3}})");
  DropMapOptions o = Options();
  o.v4_floor_data = "v4.json";
  o.v4_floor_map = "floor.json";
  ExpectFailsNaming(o, {"floor.json", "layer 5", "floor_per_layer",
                        "missing layer"});
}

TEST_F(DropMapBadInputTest, TargetAboveExpertCount) {
  Write("contrib.json", Contrib(nullptr));
  DropMapOptions o = Options();
  o.target = kExperts + 1;
  ExpectFailsNaming(o, {"--target", "contrib.json", "metadata.num_experts"});
}

TEST_F(DropMapBadInputTest, MalformedJsonNamesFileAndOffset) {
  Write("contrib.json", Contrib(nullptr).substr(0, 150));
  ExpectFailsNaming(Options(), {"contrib.json: byte "});
}

TEST_F(DropMapBadInputTest, MissingDataFileIsNotFound) {
  EXPECT_THAT(Run(Options()), StatusIs(absl::StatusCode::kNotFound,
                                       HasSubstr("contrib.json")));
}

}  // namespace
}  // namespace cohort::worker::prune
