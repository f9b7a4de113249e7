#include "client/spec/check.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/spec/spec.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::client {
namespace {

using ::cohort::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr char kDigest[] =
    "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

const std::vector<std::string>& Classes() {
  static const auto* kList = new std::vector<std::string>{
      "generic_math",       "generic_logic",          "generic_code",
      "generic_science",    "generic_creative",       "targeted_humaneval",
      "targeted_humanevalplus", "targeted_lcb_medium_55"};
  return *kList;
}

// A qwen2_moe-like config.json: 16 experts, 4 layers, every layer MoE.
constexpr char kConfig[] =
    R"({"model_type": "qwen2_moe", "num_hidden_layers": 4, "num_experts": 16,
        "num_experts_per_tok": 2, "decoder_sparse_step": 1, "mlp_only_layers": []})";

// The 1-based line of the first line of `text` containing `needle`.
int LineOf(const std::string& text, const std::string& needle) {
  size_t at = text.find(needle);
  if (at == std::string::npos) return -1;
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + at, '\n'));
}

class CheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteModel(kConfig);
    WriteContrib(16, 4, Classes());
  }

  void WriteModel(const std::string& config) {
    std::filesystem::create_directories(dir_.Join("model"));
    std::ofstream(dir_.Join("model/config.json")) << config;
  }

  // v5 contribution data: metadata first, then a few cells per class.
  void WriteContrib(int experts, int layers, const std::vector<std::string>& classes,
                    const std::string& name = "contrib.json") {
    std::ostringstream out;
    out << "{\"metadata\": {\"num_layers\": " << layers << ", \"num_experts\": " << experts
        << ", \"categories\": [\"" << absl::StrJoin(classes, "\", \"")
        << "\"], \"variant\": \"test\"}, \"categories\": {";
    for (size_t c = 0; c < classes.size(); ++c) {
      out << (c ? ", " : "") << "\"" << classes[c] << "\": {\"0\": [{\"id\": 0, \"wnorm\": "
          << "NaN, \"tc\": 1}]}";
    }
    out << "}}";
    std::ofstream(dir_.Join(name)) << out.str();
  }

  // The spec (with `recipe` and `grid` lines as given) parsed from the temp
  // folder, named s.yaml.
  static std::string Text(const std::string& recipe, const std::string& grid,
                          const std::string& inputs = "base_model: model\ncontrib: contrib.json\n") {
    return "kind: sweep\nname: check\n" + inputs + "recipe:\n" + recipe + "grid:\n" + grid +
           "eval:\n  profile: omk-card-2026-07\n  suites:\n"
           "    - {bench: gsm8k, dataset: " + kDigest + ", fewshot: " + kDigest + ", limit: 5}\n";
  }

  absl::Status Check(const std::string& text) {
    absl::StatusOr<Spec> spec = ParseSpecText(text, dir_.Join("s.yaml"), dir_.path());
    if (!spec.ok()) return spec.status();
    return CheckSpecAgainstInputs(*spec);
  }

  // "<dir>/s.yaml:<line>:" for the line of `needle`.
  std::string At(const std::string& text, const std::string& needle) {
    return absl::StrCat(dir_.Join("s.yaml"), ":", LineOf(text, needle), ":");
  }

  testing::TempDir dir_;
};

constexpr char kRecipe[] = "  dropmap: {target: 12, protect_top: 2}\n";
constexpr char kGrid[] =
    "  dropmap.class_weights:\n"
    "    even: 1 1 1 1 1 1 1 1\n"
    "    coder: 1 1 3 1 1 0 0 2\n";

TEST_F(CheckTest, AcceptsValuesTheInputsAllow) {
  EXPECT_OK(Check(Text(kRecipe, kGrid)));
  // A subset of the classes with one weight each; target = every expert.
  EXPECT_OK(Check(Text("  dropmap: {target: 16, classes: [generic_code, generic_math], "
                       "class_weights: 3 1, protect_class_weights: 1 1}\n",
                       "  upweight.alpha: [1.0, 1.2]\n")));
  // No class_weights: the generator's defaults, one per class.
  EXPECT_OK(Check(Text(kRecipe, "  quantize.type: [Q6_K]\n")));
}

TEST_F(CheckTest, TheDemoSweepPasses) {
  // docs/examples/demo-sweep.yaml over files shaped as synth-model
  // (qwen3moe, 16 experts) and synth-contrib (4 layers, 16 experts) write.
  std::ifstream in(testing::SourceDir() + "/docs/examples/demo-sweep.yaml");
  ASSERT_TRUE(in.good()) << "run under ctest (COHORT_SOURCE_DIR)";
  std::stringstream yaml;
  yaml << in.rdbuf();
  std::filesystem::create_directories(dir_.Join("demo/model"));
  std::ofstream(dir_.Join("demo/model/config.json"))
      << R"({"architectures": ["Qwen2MoeForCausalLM"], "model_type": "qwen2_moe",
            "num_hidden_layers": 4, "num_experts": 16, "num_experts_per_tok": 2})";
  WriteContrib(16, 4, Classes(), "demo/contrib.json");
  ASSERT_OK_AND_ASSIGN(Spec spec, ParseSpecText(yaml.str(), dir_.Join("sweep.yaml"),
                                                dir_.path()));
  EXPECT_EQ(spec.variants.size(), 3u);
  EXPECT_OK(CheckSpecAgainstInputs(spec));
  // The same sweep against 8-expert contribution data is refused.
  WriteContrib(8, 4, Classes(), "demo/contrib.json");
  EXPECT_THAT(CheckSpecAgainstInputs(spec),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("sweep.yaml:" + std::to_string(LineOf(yaml.str(), "contrib: demo")) + ":"), HasSubstr("contrib: "),
                             HasSubstr("demo/contrib.json declares metadata.num_experts = 8"),
                             HasSubstr("16 experts per layer"))));
}

TEST_F(CheckTest, TargetAboveTheExpertCountNamesTheRecipeLine) {
  std::string text = Text("  dropmap: {target: 20, protect_top: 2}\n", kGrid);
  absl::Status s = Check(text);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument,
                          AllOf(HasSubstr(At(text, "target: 20")),
                                HasSubstr("recipe.dropmap.target: "),
                                HasSubstr("variant 'even'"), HasSubstr("target 20"),
                                HasSubstr("16 experts per layer"),
                                HasSubstr("model/config.json: num_experts = 16"))));
}

TEST_F(CheckTest, TargetOfAGridEntryNamesThatEntry) {
  std::string text = Text(kRecipe, "  dropmap.target:\n    small: 8\n    big: 17\n");
  absl::Status s = Check(text);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument,
                          AllOf(HasSubstr(At(text, "big: 17")),
                                HasSubstr("grid.dropmap.target.big: "),
                                HasSubstr("variant 'big'"), HasSubstr("target 17"),
                                HasSubstr("16 experts"))));
  // Unlabeled values: the item's index.
  text = Text(kRecipe, "  dropmap.target: [8, 40]\n");
  EXPECT_THAT(Check(text), StatusIs(absl::StatusCode::kInvalidArgument,
                                    AllOf(HasSubstr(At(text, "[8, 40]")),
                                          HasSubstr("grid.dropmap.target[1]: "),
                                          HasSubstr("target 40"))));
}

TEST_F(CheckTest, TargetBelowOneIsRefused) {
  // The spec's own types refuse it (target must be > 0) with its position.
  std::string text = Text("  dropmap: {target: 0}\n", kGrid);
  EXPECT_THAT(Check(text), StatusIs(absl::StatusCode::kInvalidArgument,
                                    AllOf(HasSubstr(At(text, "target: 0")),
                                          HasSubstr("recipe.dropmap.target"),
                                          HasSubstr("must be > 0"))));
}

TEST_F(CheckTest, ProtectTopAboveTargetNamesBothNumbersAndTheGridEntry) {
  std::string text = Text("  dropmap: {target: 12, protect_top: 6}\n",
                          "  dropmap.target:\n    wide: 12\n    narrow: 4\n");
  EXPECT_THAT(Check(text), StatusIs(absl::StatusCode::kInvalidArgument,
                                    AllOf(HasSubstr(At(text, "narrow: 4")),
                                          HasSubstr("grid.dropmap.target.narrow: "),
                                          HasSubstr("variant 'narrow'"),
                                          HasSubstr("protect_top 6 exceeds target 4"))));
}

TEST_F(CheckTest, ClassWeightsOfAnotherLengthNameTheGridEntry) {
  std::string text = Text(kRecipe,
                          "  dropmap.class_weights:\n"
                          "    even: 1 1 1 1 1 1 1 1\n"
                          "    coder: 1 1 3\n");
  EXPECT_THAT(Check(text),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr(At(text, "coder: 1 1 3")),
                             HasSubstr("grid.dropmap.class_weights.coder: "),
                             HasSubstr("variant 'coder'"),
                             HasSubstr("3 class_weights for 8 classes"),
                             HasSubstr("contrib.json: metadata.categories = generic_math, "))));
}

TEST_F(CheckTest, ProtectClassWeightsOfAnotherLengthNameTheRecipe) {
  std::string text = Text("  dropmap: {target: 12, protect_strategy: max,\n"
                          "            protect_class_weights: 1 1 1 1 1 1 1}\n",
                          kGrid);
  EXPECT_THAT(Check(text),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr(At(text, "protect_class_weights")),
                             HasSubstr("recipe.dropmap.protect_class_weights: "),
                             HasSubstr("7 protect_class_weights for 8 classes"))));
  // Against `classes` the spec itself gives, the parser already refuses it.
  text = Text("  dropmap: {target: 12, classes: [generic_code],\n"
              "            protect_class_weights: 1 1}\n",
              "  quantize.type: [Q6_K]\n");
  EXPECT_THAT(Check(text),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr(At(text, "protect_class_weights")),
                             HasSubstr("2 protect_class_weights for 1 classes"))));
}

TEST_F(CheckTest, ClassesMustBeCategoriesOfTheContributionFile) {
  std::string text = Text("  dropmap: {target: 12, classes: [generic_code, generic_poetry],\n"
                          "            class_weights: 1 1}\n",
                          "  quantize.type: [Q6_K]\n");
  EXPECT_THAT(Check(text),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr(At(text, "classes: [")),
                             HasSubstr("recipe.dropmap.classes: "),
                             HasSubstr("class 'generic_poetry' is not a category of contrib.json"),
                             HasSubstr("(metadata.categories: generic_math, generic_logic, "))));
}

TEST_F(CheckTest, AVariantOverrideIsNamedInAManifest) {
  std::string text =
      "kind: cohort\nname: m\nbase_model: model\ncontrib: contrib.json\n"
      "recipe:\n  dropmap: {target: 12}\n"
      "variants:\n"
      "  - name: ok\n"
      "  - name: wide\n"
      "    recipe: {dropmap: {target: 64}}\n"
      "eval:\n  profile: omk-card-2026-07\n  suites:\n"
      "    - {bench: gsm8k, dataset: " + std::string(kDigest) + ", fewshot: " + kDigest +
      ", limit: 5}\n";
  EXPECT_THAT(Check(text), StatusIs(absl::StatusCode::kInvalidArgument,
                                    AllOf(HasSubstr(At(text, "target: 64")),
                                          HasSubstr("variants[1].recipe.dropmap.target: "),
                                          HasSubstr("variant 'wide': target 64"))));
}

TEST_F(CheckTest, ContributionDataOfAnotherShapeIsRefused) {
  std::string text = Text(kRecipe, kGrid);
  WriteContrib(8, 4, Classes());
  EXPECT_THAT(Check(text),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr(At(text, "contrib: contrib.json")),
                             HasSubstr("contrib: contrib.json declares metadata.num_experts = 8"),
                             HasSubstr("the model has 16 experts per layer"))));
  WriteContrib(16, 6, Classes());
  EXPECT_THAT(Check(text),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("metadata.num_layers = 6"),
                             HasSubstr("the model has 4 MoE layers"),
                             HasSubstr("num_hidden_layers = 4"))));
  WriteContrib(16, 3, Classes());
  EXPECT_FALSE(Check(text).ok());
}

TEST_F(CheckTest, LeadingDenseLayersLeaveOnlyAnUpperBoundOnLayers) {
  std::string text = Text(kRecipe, kGrid);
  // DeepSeek-style: the first layer is dense; the file may count 3 or 4.
  WriteModel(R"({"model_type": "deepseek_v3", "num_hidden_layers": 4,
                 "n_routed_experts": 16, "first_k_dense_replace": 1})");
  WriteContrib(16, 3, Classes());
  EXPECT_OK(Check(text));
  WriteContrib(16, 4, Classes());
  EXPECT_OK(Check(text));
  WriteContrib(16, 5, Classes());
  EXPECT_THAT(Check(text),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("metadata.num_layers = 5, more than the model's 4"),
                             HasSubstr("first_k_dense_replace = 1"))));
  // Qwen-style sparse steps, too.
  WriteModel(R"({"num_hidden_layers": 4, "num_experts": 16, "decoder_sparse_step": 2})");
  WriteContrib(16, 2, Classes());
  EXPECT_OK(Check(text));
}

TEST_F(CheckTest, ExpertCountComesFromTextConfigAndTheOtherKeys) {
  // Gemma 4: text_config.num_experts.
  WriteModel(R"({"model_type": "gemma4", "text_config": {"num_experts": 16,
                 "num_hidden_layers": 4}, "vision_config": {"hidden_size": 24}})");
  std::string text = Text("  dropmap: {target: 20}\n", kGrid);
  EXPECT_THAT(Check(text), StatusIs(absl::StatusCode::kInvalidArgument,
                                    HasSubstr("model/config.json: text_config.num_experts = 16")));
  ASSERT_OK_AND_ASSIGN(ModelShape gemma, ReadModelShape(dir_.Join("model")));
  EXPECT_EQ(gemma.experts, 16);
  EXPECT_EQ(gemma.layers, 4);
  EXPECT_TRUE(gemma.moe_layers_known);
  struct Case {
    std::string config, key;
  } cases[] = {
      {R"({"num_local_experts": 16, "num_hidden_layers": 4})", "num_local_experts"},
      {R"({"n_routed_experts": 16, "num_hidden_layers": 4})", "n_routed_experts"},
      {R"({"moe_num_experts": 16, "num_hidden_layers": 4})", "moe_num_experts"},
      {R"({"num_experts": null, "num_local_experts": 16})", "num_local_experts"},
      {R"({"text_config": {"num_local_experts": 16}})", "text_config.num_local_experts"},
  };
  for (const Case& c : cases) {
    WriteModel(c.config);
    ASSERT_OK_AND_ASSIGN(ModelShape shape, ReadModelShape(dir_.Join("model")));
    EXPECT_EQ(shape.experts, 16) << c.config;
    EXPECT_EQ(shape.experts_key, c.key) << c.config;
  }
}

TEST_F(CheckTest, TheContributionFileBoundsTargetWithoutALocalModel) {
  std::string inputs = std::string("base_model: ") + kDigest + "\ncontrib: contrib.json\n";
  std::string text = Text("  dropmap: {target: 20}\n", kGrid, inputs);
  EXPECT_THAT(Check(text), StatusIs(absl::StatusCode::kInvalidArgument,
                                    AllOf(HasSubstr("recipe.dropmap.target: "),
                                          HasSubstr("target 20 is above the 16 experts"),
                                          HasSubstr("contrib.json: metadata.num_experts = 16"))));
}

TEST_F(CheckTest, InputsByDigestOnlyAreNotChecked) {
  std::string inputs = std::string("base_model: ") + kDigest + "\ncontrib: " + kDigest + "\n";
  EXPECT_OK(Check(Text("  dropmap: {target: 500}\n",
                       "  dropmap.class_weights: {short: 1 2}\n", inputs)));
  // A path that does not exist is left to ResolveInputs, which names it.
  EXPECT_OK(Check(Text("  dropmap: {target: 500}\n", kGrid,
                       "base_model: nowhere\ncontrib: nothing.json\n")));
}

TEST_F(CheckTest, WhatTheFilesDoNotDeclareIsNotChecked) {
  WriteModel(R"({"num_experts": 16})");
  std::ofstream(dir_.Join("contrib.json")) << R"({"metadata": {}})";
  EXPECT_OK(Check(Text(kRecipe, "  dropmap.class_weights: {v5: 1 1 2}\n")));
  std::ofstream(dir_.Join("contrib.json")) << R"({"categories": {}})";
  EXPECT_OK(Check(Text(kRecipe, "  dropmap.class_weights: {v5: 1 1 2}\n")));
}

TEST_F(CheckTest, UnreadableInputsAreRefusedAtTheirPosition) {
  std::string text = Text(kRecipe, kGrid);
  std::filesystem::remove(dir_.Join("model/config.json"));
  EXPECT_THAT(Check(text), StatusIs(absl::StatusCode::kInvalidArgument,
                                    AllOf(HasSubstr(At(text, "base_model: model")),
                                          HasSubstr("base_model: "),
                                          HasSubstr("config.json does not exist"))));
  WriteModel("{\"num_experts\": 16,");
  EXPECT_THAT(Check(text), StatusIs(absl::StatusCode::kInvalidArgument,
                                    HasSubstr("config.json: not a JSON object")));
  WriteModel(kConfig);
  std::ofstream(dir_.Join("contrib.json")) << "[1, 2]";
  EXPECT_THAT(Check(text), StatusIs(absl::StatusCode::kInvalidArgument,
                                    AllOf(HasSubstr(At(text, "contrib: contrib.json")),
                                          HasSubstr("not a JSON object at byte 1"))));
  std::ofstream(dir_.Join("contrib.json")) << R"({"metadata": {"num_experts": "many"}})";
  EXPECT_THAT(Check(text), StatusIs(absl::StatusCode::kInvalidArgument,
                                    HasSubstr("metadata.num_experts = \"many\"")));
}

TEST(ContribMetadataTest, ReadsOnlyTheMetadata) {
  testing::TempDir dir;
  std::string path = dir.Join("c.json");
  // Metadata first: the scan stops there, so what follows is never read
  // (here it is not even JSON).
  std::ofstream(path) << R"({"metadata": {"num_experts": 16, "note": "a \"quoted\" }"},)"
                      << R"( "categories": {"x": [NaN, {{{)";
  ASSERT_OK_AND_ASSIGN(nlohmann::ordered_json m, ReadContribMetadata(path));
  EXPECT_EQ(m["num_experts"], 16);
  EXPECT_EQ(m["note"], "a \"quoted\" }");
  // Metadata after the cells (Python's NaN among them), object categories
  // in the file's order, NaN inside the metadata.
  std::ofstream(path) << R"({"version": 5, "categories": {"b": {"0": [{"wnorm": NaN,)"
                      << R"( "tc": -Infinity, "s": "{[\"" }]}}, "metadata": {"num_layers": 2,)"
                      << R"( "mean": NaN, "categories": {"zeta": 1, "alpha": 2}}})";
  ASSERT_OK_AND_ASSIGN(m, ReadContribMetadata(path));
  EXPECT_EQ(m["num_layers"], 2);
  EXPECT_TRUE(m["mean"].is_null());
  ASSERT_OK_AND_ASSIGN(ContribShape shape, ContribShapeOf(m, "c.json"));
  EXPECT_EQ(shape.layers, 2);
  EXPECT_EQ(shape.experts, -1);
  ASSERT_TRUE(shape.categories.has_value());
  EXPECT_EQ(*shape.categories, (std::vector<std::string>{"zeta", "alpha"}));
  // No metadata: null.
  std::ofstream(path) << R"({"categories": {}})";
  ASSERT_OK_AND_ASSIGN(m, ReadContribMetadata(path));
  EXPECT_TRUE(m.is_null());
  std::ofstream(path) << " {} ";
  ASSERT_OK_AND_ASSIGN(m, ReadContribMetadata(path));
  EXPECT_TRUE(m.is_null());
  // A file cut short before the metadata ends.
  std::ofstream(path) << R"({"categories": {}, "metadata": {"num_layers": 2, "cat)";
  EXPECT_THAT(ReadContribMetadata(path),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ends inside")));
  std::ofstream(path) << R"({"metadata": {"num_layers": 2,}})";
  EXPECT_THAT(ReadContribMetadata(path),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not valid JSON")));
  EXPECT_THAT(ContribShapeOf(nlohmann::ordered_json::parse(R"({"categories": [1]})"), "c"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("metadata.categories")));
}

}  // namespace
}  // namespace cohort::client

namespace cohort::client {
namespace {

// class_weights by class name: put in the contribution file's category
// order, so the map and the equal list expand to the same step keys.
TEST_F(CheckTest, ClassWeightsByNameFollowTheCategoryOrder) {
  const std::string by_name =
      "  dropmap: {target: 12, protect_top: 2, class_weights: {generic_code: 3, "
      "generic_math: 1, generic_logic: 1, generic_science: 1, generic_creative: 1, "
      "targeted_humaneval: 0, targeted_humanevalplus: 0, targeted_lcb_medium_55: 2}}\n";
  const std::string as_list = "  dropmap: {target: 12, protect_top: 2, class_weights: 1 1 3 1 1 0 0 2}\n";
  // The recipes the graph (and so every step key) is expanded from.
  auto expand = [&](const std::string& recipe) -> absl::StatusOr<nlohmann::json> {
    absl::StatusOr<Spec> spec = ParseSpecText(Text(recipe, "  quantize.type: [Q6_K]\n"),
                                              dir_.Join("s.yaml"), dir_.path());
    if (!spec.ok()) return spec.status();
    if (absl::Status s = ResolveClassWeightMaps(*spec); !s.ok()) return s;
    if (absl::Status s = CheckSpecAgainstInputs(*spec); !s.ok()) return s;
    nlohmann::json recipes = nlohmann::json::array();
    for (const Variant& v : spec->variants) recipes.push_back(v.recipe);
    return recipes;
  };
  ASSERT_OK_AND_ASSIGN(nlohmann::json named, expand(by_name));
  ASSERT_OK_AND_ASSIGN(nlohmann::json listed, expand(as_list));
  EXPECT_EQ(named, listed);
  EXPECT_EQ(named[0]["dropmap"]["class_weights"], nlohmann::json({1, 1, 3, 1, 1, 0, 0, 2}));
  EXPECT_THAT(expand("  dropmap: {target: 12, class_weights: {generic_code: 3}}\n").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("no weight for class 'generic_math'")));
  std::string typo = by_name;
  typo.replace(typo.find("generic_math: 1"), 15, "generic_maths: 1");
  EXPECT_THAT(expand(typo).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no weight for class")));
  std::string extra = by_name;
  extra.replace(extra.find("}}"), 2, ", poetry: 1}}");
  EXPECT_THAT(expand(extra).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'poetry' is not a class")));
}

}  // namespace
}  // namespace cohort::client
