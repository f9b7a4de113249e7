#include "client/spec/manifest.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::client {
namespace {

using ::testing::HasSubstr;

std::string Digest(char c) { return "sha256:" + std::string(64, c); }

// Two variants over digests only; text that YAML must keep as strings
// ("1", a name with a colon, a quote and a newline in the profile).
std::string Sweep() {
  return "kind: sweep\nname: 'demo: \"x\"'\nmax_attempts: 2\nbase_model: " + Digest('a') +
         "\ncontrib: " + Digest('b') +
         "\ntools: {llama_cpp: b6500, scorer_version: \"1\"}\n"
         "recipe:\n  dropmap: {target: 12, protect_top: 2}\n  upweight: {alpha: 1.2}\n"
         "  quantize: {type: Q8_0}\n"
         "grid:\n  dropmap.class_weights: {v5: 1 1 2, v6: [1, 1, 3.5]}\n"
         "eval:\n  profile: omk-card-2026-07\n  server: {parallel: 2}\n"
         "  suites:\n    - {bench: gsm8k, dataset: " + Digest('c') + ", fewshot: " + Digest('c') + ", limit: 5}\n";
}

TEST(ManifestTest, YamlOfTheManifestParsesBackToTheSameSpec) {
  ASSERT_OK_AND_ASSIGN(Spec spec, ParseSpecText(Sweep(), "s.yaml", "/"));
  std::map<std::string, PinnedDigests> pins = {
      {"v5", {{"drop_map", Digest('1')}, {"quantized", Digest('2')}}}};
  nlohmann::json manifest = ManifestJson(spec, pins);
  EXPECT_EQ(manifest["kind"], "cohort");
  std::string yaml = ToYaml(manifest, {"from campaign c-1", "second line"});
  EXPECT_THAT(yaml, ::testing::StartsWith("# from campaign c-1\n# second line\n"));
  ASSERT_OK_AND_ASSIGN(Spec again, ParseSpecText(yaml, "m.yaml", "/"));
  EXPECT_EQ(again.kind, "cohort");
  EXPECT_EQ(again.name, "demo: \"x\"");
  EXPECT_EQ(again.scorer_version, "1");
  ASSERT_EQ(again.variants.size(), 2u);
  EXPECT_EQ(again.variants[0].pinned, pins["v5"]);
  EXPECT_TRUE(again.variants[1].pinned.empty());
  EXPECT_EQ(NormalizedSpecJson(again), manifest) << yaml;
  // The same steps: re-expanding the manifest gives the sweep's graph.
  ASSERT_OK_AND_ASSIGN(Graph before, ExpandSpec(spec));
  ASSERT_OK_AND_ASSIGN(Graph after, ExpandSpec(again));
  ASSERT_EQ(before.nodes.size(), after.nodes.size());
  for (size_t i = 0; i < before.nodes.size(); ++i) {
    EXPECT_EQ(before.nodes[i].params, after.nodes[i].params) << before.nodes[i].id;
  }
}

TEST(ManifestTest, CheckPinsReportsEachArtifact) {
  ASSERT_OK_AND_ASSIGN(Spec spec, ParseSpecText(Sweep(), "s.yaml", "/"));
  ASSERT_OK_AND_ASSIGN(Graph graph, ExpandSpec(spec));
  std::map<std::string, std::string> produced;
  char c = 'd';
  for (const ModelNodes& m : graph.models) {
    for (const auto& [artifact, node] : m.artifacts) produced[node] = Digest(c++);
  }
  const ModelNodes& v5 = graph.models[0];
  spec.variants[0].pinned = {{"drop_map", produced[v5.artifacts.at("drop_map")]},
                             {"pruned", Digest('0')},
                             {"gguf", produced[v5.artifacts.at("gguf")]}};
  produced.erase(v5.artifacts.at("gguf"));
  ASSERT_OK_AND_ASSIGN(std::vector<PinCheck> checks, CheckPins(spec, graph, produced));
  ASSERT_EQ(checks.size(), 8u);  // 2 variants x 4 artifacts
  std::map<std::string, std::string> v5_results;
  for (const PinCheck& c : checks) {
    if (c.variant == "v5") v5_results[c.artifact] = PinResultName(c.result);
    if (c.variant == "v6") {
      EXPECT_EQ(c.result, PinCheck::Result::kUnpinned);
    }
  }
  EXPECT_EQ(v5_results, (std::map<std::string, std::string>{{"drop_map", "match"},
                                                            {"pruned", "MISMATCH"},
                                                            {"gguf", "pending"},
                                                            {"quantized", "unpinned"}}));

  Spec other = spec;
  other.variants[0].name = "v7";
  absl::StatusOr<std::vector<PinCheck>> unknown = CheckPins(other, graph, produced);
  ASSERT_FALSE(unknown.ok());
  EXPECT_THAT(unknown.status().message(), HasSubstr("variant 'v7' is not in the campaign"));
}

}  // namespace
}  // namespace cohort::client
