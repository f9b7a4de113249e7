#include "client/spec/expand.h"

#include <set>

#include "client/spec/match.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::client {
namespace {

const std::string kD = "sha256:" + std::string(64, 'a');
const std::string kG = "sha256:" + std::string(64, 'b');

std::string Spec3(const std::string& extra = "") {
  return "kind: sweep\nname: demo\nbase_model: " + kD + "\ncontrib: " + kD +
         "\nrecipe:\n  dropmap: {target: 12}\n  upweight: {alpha: 1.2}\n"
         "grid:\n  dropmap.class_weights: {a: [1, 2], b: [1, 3], c: [1, 3]}\n" + extra +
         "eval:\n  profile: omk-card-2026-07\n  suites:\n"
         "    - {bench: gsm8k, dataset: " + kD + ", fewshot: " + kD + ", limit: 10, shards: 2}\n"
         "    - {bench: arc_challenge, dataset: " + kD + ", limit: 5}\n";
}

std::map<std::string, int> CountKinds(const Graph& g) {
  std::map<std::string, int> out;
  for (const GraphNode& n : g.nodes) out[n.kind]++;
  return out;
}

TEST(ExpandTest, SharesUpstreamNodesAndFusesUpweight) {
  ASSERT_OK_AND_ASSIGN(Spec spec, ParseSpecText(Spec3(), "s.yaml", "/"));
  ASSERT_OK_AND_ASSIGN(Graph g, ExpandSpec(spec));
  std::map<std::string, int> kinds = CountKinds(g);
  // b and c have the same recipe: one chain for both.
  EXPECT_EQ(kinds["dropmap"], 2);
  EXPECT_EQ(kinds["prune"], 2);
  EXPECT_EQ(kinds.count("upweight"), 0u);
  EXPECT_EQ(kinds["quantize"], 2);
  EXPECT_EQ(kinds["generate"], 2 * 3);  // 2 chains x (2 gsm8k shards + 1 arc)
  EXPECT_EQ(kinds["score"], 2 * 3);
  const GraphNode* prune = g.Find("prune:a");
  ASSERT_NE(prune, nullptr);
  EXPECT_EQ(prune->params["upweight"]["alpha"].get<double>(), 1.2);
  EXPECT_EQ(prune->params["upweight"]["target"], "mlp.down_proj.weight");
  ASSERT_EQ(g.models.size(), 3u);
  EXPECT_EQ(g.models[1].scores.at("gsm8k-10"), g.models[2].scores.at("gsm8k-10"));
  const GraphNode* gen = g.Find(g.models[0].scores.at("gsm8k-10")[0]);
  ASSERT_NE(gen, nullptr);
  const GraphNode* generate = g.Find(gen->inputs[0].node_id);
  ASSERT_NE(generate, nullptr);
  EXPECT_EQ(generate->kind, "generate");
  EXPECT_EQ(generate->params["shard"]["count"], 2);
  EXPECT_EQ(generate->params["profile"]["benches"]["gsm8k"]["limit"], 10);
  EXPECT_EQ(generate->params["profile"]["benches"].size(), 1u);
  EXPECT_EQ(generate->gpus, 1u);
  EXPECT_EQ(generate->params["server"]["parallel"], 2);
}

TEST(ExpandTest, SamePruneParamsShareOneNodeAcrossAlphaWhenNotFused) {
  std::string text = Spec3();
  text.replace(text.find("upweight: {alpha: 1.2}"), 22,
               "upweight: {alpha: 1.2}\n  prune: {fuse_upweight: false}");
  text.replace(text.find("{a: [1, 2], b: [1, 3], c: [1, 3]}"), 33, "[[1, 2]]\n  upweight.alpha: [1.1, 1.3]");
  ASSERT_OK_AND_ASSIGN(Spec spec, ParseSpecText(text, "s.yaml", "/"));
  ASSERT_OK_AND_ASSIGN(Graph g, ExpandSpec(spec));
  std::map<std::string, int> kinds = CountKinds(g);
  EXPECT_EQ(kinds["dropmap"], 1);
  EXPECT_EQ(kinds["prune"], 1);
  EXPECT_EQ(kinds["upweight"], 2);
}

TEST(ExpandTest, GateGuardsEveryFullBench) {
  ASSERT_OK_AND_ASSIGN(
      Spec spec,
      ParseSpecText(Spec3("gates:\n  probe: {bench: gsm8k, dataset: " + kD +
                          ", fewshot: " + kD + ", limit: 3}\n  condition: {metric: accuracy, op: '>=', value: 0.3}\n"
                          "references:\n  - {name: base, gguf: " + kG + "}\n"),
                    "s.yaml", "/"));
  ASSERT_OK_AND_ASSIGN(Graph g, ExpandSpec(spec));
  EXPECT_EQ(CountKinds(g)["gate"], 2);
  for (const GraphNode& n : g.nodes) {
    if (n.kind != "generate") continue;
    bool probe = n.id.find("probe-") != std::string::npos;
    bool has_gate = false;
    bool from_ref = false;
    for (const GraphInput& in : n.inputs) {
      has_gate = has_gate || in.name == "gate";
      from_ref = from_ref || in.digest == kG;
    }
    EXPECT_EQ(has_gate, !probe && !from_ref) << n.id;
  }
  const GraphNode* gate = g.Find(g.models[0].gate);
  ASSERT_NE(gate, nullptr);
  EXPECT_EQ(gate->params["value"].get<double>(), 0.3);
  EXPECT_TRUE(g.models.back().reference);
  EXPECT_EQ(g.models.back().scores.size(), 2u);  // references run no probe
}

TEST(ExpandTest, MatchesNodesToStepsStructurally) {
  ASSERT_OK_AND_ASSIGN(Spec spec, ParseSpecText(Spec3(), "s.yaml", "/"));
  ASSERT_OK_AND_ASSIGN(Graph g, ExpandSpec(spec));
  // Fake steps: key "k:<node id>", params dumped non-canonically.
  std::vector<StepView> steps;
  for (const GraphNode& n : g.nodes) {
    StepView s;
    s.key = "k:" + n.id;
    s.kind = n.kind;
    s.params_json = n.params.dump(2);
    for (const GraphInput& in : n.inputs) {
      if (!in.digest.empty()) s.digest_inputs.emplace_back(in.name, in.digest);
      if (!in.node_id.empty()) s.depends_on.push_back("k:" + in.node_id);
    }
    steps.push_back(s);
  }
  std::reverse(steps.begin(), steps.end());
  ASSERT_OK_AND_ASSIGN(auto matched, MatchNodesToSteps(g, steps));
  EXPECT_EQ(matched.size(), g.nodes.size());
  for (const auto& [node, key] : matched) EXPECT_EQ(key, "k:" + node);
}

TEST(ExpandTest, RefusesUnhashedInputs) {
  ASSERT_OK_AND_ASSIGN(Spec spec, ParseSpecText(Spec3(), "s.yaml", "/"));
  spec.contrib.digest.clear();
  spec.contrib.path = "/x";
  EXPECT_FALSE(ExpandSpec(spec).ok());
}

}  // namespace
}  // namespace cohort::client
