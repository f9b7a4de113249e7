#include "client/spec/expand.h"

#include <set>

#include "client/spec/match.h"
#include "common/canonical_json.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::client {
namespace {

using ::cohort::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

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

// Per-layer quant maps: a grid over quantize.tensor_types makes one quantize
// per map over the same GGUF; without a map a quantize's params (and so its
// key) are what they always were.
TEST(ExpandTest, ATensorTypeGridQuantizesOneGgufOncePerMap) {
  std::string text = Spec3(
      "  quantize.tensor_types:\n"
      "    down8: [ffn_down_exps=q8_0]\n"
      "    attn6: ['blk\\.[0-9]+\\.attn_.*=q6_K', ffn_down_exps=q8_0]\n");
  text.replace(text.find("{a: [1, 2], b: [1, 3], c: [1, 3]}"), 33, "{a: [1, 2]}");
  ASSERT_OK_AND_ASSIGN(Spec spec, ParseSpecText(text, "s.yaml", "/"));
  ASSERT_OK_AND_ASSIGN(Graph g, ExpandSpec(spec));
  std::map<std::string, int> kinds = CountKinds(g);
  EXPECT_EQ(kinds["convert"], 1);
  EXPECT_EQ(kinds["quantize"], 2);
  std::set<std::string> maps;
  for (const GraphNode& n : g.nodes) {
    if (n.kind == "quantize") maps.insert(n.params["tensor_types"].dump());
  }
  EXPECT_EQ(maps, (std::set<std::string>{R"(["ffn_down_exps=q8_0"])",
                                         R"(["blk\\.[0-9]+\\.attn_.*=q6_K","ffn_down_exps=q8_0"])"}));

  ASSERT_OK_AND_ASSIGN(Spec plain_spec, ParseSpecText(Spec3(), "s.yaml", "/"));
  ASSERT_OK_AND_ASSIGN(Graph plain, ExpandSpec(plain_spec));
  for (const GraphNode& n : plain.nodes) EXPECT_FALSE(n.params.contains("tensor_types")) << n.id;
}

TEST(ExpandTest, ATensorTypeEntryLlamaQuantizeWouldRefuseFailsAtItsLine) {
  std::string text = Spec3("  quantize.tensor_types: [[ffn_down_exps=q9_9]]\n");
  EXPECT_THAT(ParseSpecText(text, "s.yaml", "/"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("s.yaml:"), HasSubstr("ffn_down_exps=q9_9"))));
}

// A quantmap target adds a step between the drop map and the quantize: one
// per (drop map, GGUF, target), shared by a quantize.type grid over it, so
// a tier sweep of contribution-driven quants reads the map once.
TEST(ExpandTest, AQuantMapTargetAddsAStepEveryTierShares) {
  std::string text = Spec3("  quantize.type: [Q4_K_M, Q6_K]\n");
  text.replace(text.find("{a: [1, 2], b: [1, 3], c: [1, 3]}"), 33, "{a: [1, 2]}");
  text.replace(text.find("upweight: {alpha: 1.2}"), 22,
               "upweight: {alpha: 1.2}\n  quantmap: {target_bpw: 5.5, types: [q4_K, q8_0]}");
  ASSERT_OK_AND_ASSIGN(Spec spec, ParseSpecText(text, "s.yaml", "/"));
  ASSERT_OK_AND_ASSIGN(Graph g, ExpandSpec(spec));
  std::map<std::string, int> kinds = CountKinds(g);
  EXPECT_EQ(kinds["quantmap"], 1);
  EXPECT_EQ(kinds["quantize"], 2);
  const GraphNode* map = nullptr;
  for (const GraphNode& n : g.nodes) {
    if (n.kind == "quantmap") map = &n;
  }
  ASSERT_NE(map, nullptr);
  EXPECT_EQ(map->params["target_bpw"], 5.5);
  EXPECT_EQ(map->params["types"], nlohmann::json({"q4_K", "q8_0"}));
  EXPECT_FALSE(map->params.contains("tensors"));
  std::map<std::string, std::string> inputs;
  for (const GraphInput& in : map->inputs) inputs[in.name] = in.node_id.empty() ? in.digest : in.node_id;
  EXPECT_EQ(inputs["contrib"], kD);
  EXPECT_EQ(g.Find(inputs["drop_map"])->kind, "dropmap");
  EXPECT_EQ(g.Find(inputs["gguf"])->kind, "convert");
  for (const GraphNode& n : g.nodes) {
    if (n.kind != "quantize") continue;
    bool uses_map = false;
    for (const GraphInput& in : n.inputs) {
      uses_map |= in.name == "tensor_types" && in.node_id == map->id && in.output == "tensor_types";
    }
    EXPECT_TRUE(uses_map) << n.id;
  }
  // Without a target there is no quantmap step and no quantize reads one.
  ASSERT_OK_AND_ASSIGN(Spec plain_spec, ParseSpecText(Spec3(), "s.yaml", "/"));
  ASSERT_OK_AND_ASSIGN(Graph plain, ExpandSpec(plain_spec));
  EXPECT_EQ(CountKinds(plain).count("quantmap"), 0u);
  for (const GraphNode& n : plain.nodes) {
    for (const GraphInput& in : n.inputs) EXPECT_NE(in.name, "tensor_types") << n.id;
  }
}

TEST(ExpandTest, AQuantMapTargetNoTypeReachesFailsAtItsLine) {
  std::string text = Spec3("  quantmap.target_bpw: [4.0]\n");
  EXPECT_THAT(ParseSpecText(text, "s.yaml", "/"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("s.yaml:"), HasSubstr("below the lowest type, q4_K"))));
  EXPECT_THAT(ParseSpecText(Spec3("  quantmap.types: [[q4_K, bf16]]\n"), "s.yaml", "/"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bf16 is not a quantized")));
  EXPECT_THAT(ParseSpecText(Spec3("  quantmap.tensors: [[ffn_down_exps, 'attn_.*']]\n"),
                            "s.yaml", "/"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("s.yaml:"), HasSubstr("'attn_.*' is not a tensor kind"))));
  EXPECT_THAT(ParseSpecText(Spec3("  quantmap.tensors: [[attn_q, attn_v]]\n"), "s.yaml", "/"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no expert kind")));
  ASSERT_OK(ParseSpecText(Spec3("  quantmap.tensors: [[ffn_down_exps, attn_v]]\n"), "s.yaml",
                          "/").status());
  std::string none = Spec3("  quantmap.target_bpw: [6]\n  quantize.type: [none]\n");
  EXPECT_THAT(ParseSpecText(none, "s.yaml", "/"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("needs a quantize step")));
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

std::string GatedSpecWithReferences() {
  return Spec3("gates:\n  probe: {bench: gsm8k, dataset: " + kD + ", fewshot: " + kD +
               ", limit: 3}\n  condition: {metric: accuracy, op: '>=', value: 0.3}\n"
               "references:\n  - {name: base, gguf: " + kG + "}\n"
               "  - {name: prior, campaign: c-0123456789abcdef, model: v7}\n");
}

// Each node says which model it was made for (the first, when later models
// share it) and, for generate and score nodes, its suite: cohortd stores
// these and the dashboard names steps by them.
TEST(ExpandTest, NodesCarryTheModelAndSuiteTheyWereMadeFor) {
  ASSERT_OK_AND_ASSIGN(Spec spec, ParseSpecText(GatedSpecWithReferences(), "s.yaml", "/"));
  ASSERT_OK_AND_ASSIGN(Graph g, ExpandSpec(spec));
  std::map<std::string, std::string> first_model;  // node -> first model that reaches it
  for (const ModelNodes& m : g.models) {
    for (const auto& [suite, nodes] : m.scores) {
      for (const std::string& id : nodes) {
        first_model.emplace(id, m.name);
        const GraphNode* score = g.Find(id);
        ASSERT_NE(score, nullptr);
        EXPECT_EQ(score->suite, suite) << id;
        const GraphNode* generate = g.Find(score->inputs[0].node_id);
        ASSERT_NE(generate, nullptr);
        EXPECT_EQ(generate->suite, suite) << generate->id;
      }
    }
    for (const auto& [artifact, id] : m.artifacts) first_model.emplace(id, m.name);
  }
  ASSERT_GT(first_model.size(), 10u);
  for (const auto& [id, model] : first_model) EXPECT_EQ(g.Find(id)->model, model) << id;
  // b and c share their chain and scores: b made them.
  EXPECT_EQ(g.models[1].scores.at("arc_challenge-5"), g.models[2].scores.at("arc_challenge-5"));
  EXPECT_EQ(g.Find(g.models[2].scores.at("arc_challenge-5")[0])->model, g.models[1].name);
  for (const GraphNode& n : g.nodes) {
    EXPECT_FALSE(n.model.empty()) << n.id;
    EXPECT_EQ(n.suite.empty(), n.kind != "generate" && n.kind != "score") << n.id;
  }
}

// A reference served by a running OpenAI-compatible server (the seed's
// NVFP4 build on vLLM): its generate steps name the server and need a
// worker that may reach it, no GGUF and no card; the campaign's spec keeps
// the server, so the campaign re-reads as the same graph.
TEST(ExpandTest, AServerReferenceGeneratesOnItsEndpoint) {
  std::string text = Spec3(
      "references:\n"
      "  - {name: vllm-nvfp4, server: {url: 'http://gpu-box:8000/', model: gemma-nvfp4, "
      "parallel: 8}}\n");
  ASSERT_OK_AND_ASSIGN(Spec spec, ParseSpecText(text, "s.yaml", "/"));
  ASSERT_EQ(spec.references.size(), 1u);
  EXPECT_EQ(spec.references[0].server.url, "http://gpu-box:8000");
  ASSERT_OK_AND_ASSIGN(Graph g, ExpandSpec(spec));
  int generates = 0;
  for (const GraphNode& n : g.nodes) {
    if (n.kind != "generate" || n.model != "vllm-nvfp4") continue;
    ++generates;
    EXPECT_EQ(n.params["endpoint"],
              nlohmann::json({{"url", "http://gpu-box:8000"}, {"model", "gemma-nvfp4"},
                              {"parallel", 8}}));
    EXPECT_EQ(n.gpus, 0u);
    EXPECT_EQ(n.tools, std::vector<std::string>{"endpoint:http://gpu-box:8000"});
    for (const GraphInput& in : n.inputs) EXPECT_NE(in.name, "gguf") << n.id;
  }
  EXPECT_EQ(generates, 3);  // 2 gsm8k shards + arc
  // The normalized spec (what cohortd keeps) reads back as the same graph.
  ASSERT_OK_AND_ASSIGN(std::string normalized, CanonicalJson(NormalizedSpecJson(spec)));
  ASSERT_OK_AND_ASSIGN(Spec again, ParseSpecText(normalized, "campaign", ""));
  ASSERT_OK_AND_ASSIGN(Graph g2, ExpandSpec(again));
  EXPECT_EQ(g2.nodes.size(), g.nodes.size());

  for (const auto& [bad, why] : std::vector<std::pair<std::string, std::string>>{
           {"server: {url: 'ftp://x', model: m}", "http:// or https://"},
           {"server: {url: 'http://x'}", "model"},
           {"server: {url: 'http://x', model: m, parallel: 0}", "1 to 1024"},
           {"gguf: " + kG + ", server: {url: 'http://x', model: m}", "exactly one of"}}) {
    EXPECT_THAT(ParseSpecText(Spec3("references:\n  - {name: r, " + bad + "}\n"), "s.yaml", "/"),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(why)))
        << bad;
  }
}

// A reference a worker serves with vLLM from a checkpoint folder (the NVFP4
// build): its generate steps take the checkpoint, a card and the tool
// "vllm", with the typed settings; the normalized spec reads back as the
// same graph; anything outside the settings is refused at its line.
TEST(ExpandTest, AVllmReferenceServesItsCheckpoint) {
  std::string text = Spec3(
      "references:\n"
      "  - name: nvfp4\n"
      "    vllm: {checkpoint: " + kG + ", parallel: 8, reasoning_parser: qwen3,\n"
      "           quantization: modelopt_fp4, gpu_memory_utilization: 0.85}\n");
  ASSERT_OK_AND_ASSIGN(Spec spec, ParseSpecText(text, "s.yaml", "/"));
  ASSERT_EQ(spec.references.size(), 1u);
  EXPECT_EQ(spec.references[0].vllm.checkpoint.digest, kG);
  ASSERT_OK_AND_ASSIGN(Graph g, ExpandSpec(spec));
  int generates = 0;
  for (const GraphNode& n : g.nodes) {
    if (n.kind != "generate" || n.model != "nvfp4") continue;
    ++generates;
    EXPECT_EQ(n.params["vllm"],
              nlohmann::json({{"parallel", 8}, {"reasoning_parser", "qwen3"},
                              {"quantization", "modelopt_fp4"},
                              {"gpu_memory_utilization", 0.85}}));
    EXPECT_EQ(n.gpus, 1u);
    EXPECT_EQ(n.tools, std::vector<std::string>{"vllm"});
    bool has_checkpoint = false;
    for (const GraphInput& in : n.inputs) {
      EXPECT_NE(in.name, "gguf") << n.id;
      has_checkpoint |= in.name == "checkpoint" && in.digest == kG;
    }
    EXPECT_TRUE(has_checkpoint) << n.id;
  }
  EXPECT_EQ(generates, 3);
  // Tensor parallelism: the step holds that many cards.
  ASSERT_OK_AND_ASSIGN(
      Spec tp, ParseSpecText(Spec3("references:\n  - {name: tp, vllm: {checkpoint: " + kG +
                                   ", parallel: 8, tensor_parallel_size: 2}}\n"),
                             "s.yaml", "/"));
  ASSERT_OK_AND_ASSIGN(Graph tp_graph, ExpandSpec(tp));
  for (const GraphNode& n : tp_graph.nodes) {
    if (n.kind == "generate" && n.model == "tp") {
      EXPECT_EQ(n.gpus, 2u) << n.id;
    }
  }
  ASSERT_OK_AND_ASSIGN(std::string normalized, CanonicalJson(NormalizedSpecJson(spec)));
  ASSERT_OK_AND_ASSIGN(Spec again, ParseSpecText(normalized, "campaign", ""));
  ASSERT_OK_AND_ASSIGN(Graph g2, ExpandSpec(again));
  ASSERT_EQ(g2.nodes.size(), g.nodes.size());
  for (size_t i = 0; i < g.nodes.size(); ++i) EXPECT_EQ(g2.nodes[i].params, g.nodes[i].params);

  for (const auto& [bad, why] : std::vector<std::pair<std::string, std::string>>{
           {"vllm: {checkpoint: " + kG + "}", "vllm needs parallel"},
           {"vllm: {checkpoint: " + kG + ", parallel: 0}", "vllm.parallel: an integer from 1"},
           {"vllm: {parallel: 2}", "checkpoint"},
           {"vllm: {checkpoint: " + kG + ", parallel: 2, trust_remote_code: true}",
            "trust_remote_code"},
           {"vllm: {checkpoint: " + kG + ", parallel: 2, dtype: '--enforce-eager'}",
            "vllm.dtype"},
           {"gguf: " + kG + ", vllm: {checkpoint: " + kG + ", parallel: 2}", "exactly one of"}}) {
    EXPECT_THAT(ParseSpecText(Spec3("references:\n  - {name: r, " + bad + "}\n"), "s.yaml", "/"),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(why)))
        << bad;
  }
}

TEST(OutlineTest, ReadsTheNamesOfTheNormalizedSpec) {
  ASSERT_OK_AND_ASSIGN(Spec spec, ParseSpecText(GatedSpecWithReferences(), "s.yaml", "/"));
  ASSERT_OK_AND_ASSIGN(std::string text, CanonicalJson(NormalizedSpecJson(spec)));
  ASSERT_OK_AND_ASSIGN(SpecOutline outline, ReadSpecOutline(text));
  ASSERT_EQ(outline.variants.size(), spec.variants.size());
  for (size_t i = 0; i < spec.variants.size(); ++i) {
    EXPECT_EQ(outline.variants[i], spec.variants[i].name);
  }
  ASSERT_EQ(outline.references.size(), 2u);
  EXPECT_EQ(outline.references[0].name, "base");
  EXPECT_EQ(outline.references[0].gguf.digest, kG);
  EXPECT_EQ(outline.references[0].campaign, "");
  EXPECT_EQ(outline.references[1].name, "prior");
  EXPECT_EQ(outline.references[1].campaign, "c-0123456789abcdef");
  EXPECT_EQ(outline.references[1].model, "v7");
  EXPECT_EQ(outline.suites, (std::vector<std::string>{"gsm8k-10", "arc_challenge-5"}));
  EXPECT_EQ(outline.probe_suite, spec.gate->probe.name);
  // A parsed spec gives the same names.
  SpecOutline parsed = OutlineOf(spec);
  EXPECT_EQ(parsed.variants, outline.variants);
  EXPECT_EQ(parsed.suites, outline.suites);
  EXPECT_EQ(parsed.probe_suite, outline.probe_suite);
  ASSERT_EQ(parsed.references.size(), outline.references.size());
  for (size_t i = 0; i < parsed.references.size(); ++i) {
    EXPECT_EQ(parsed.references[i].name, outline.references[i].name);
    EXPECT_EQ(parsed.references[i].campaign, outline.references[i].campaign);
    EXPECT_EQ(parsed.references[i].model, outline.references[i].model);
    EXPECT_EQ(parsed.references[i].gguf.digest, outline.references[i].gguf.digest);
  }
}

TEST(OutlineTest, RefusesWhatIsNotANormalizedSpec) {
  for (const std::string text :
       {"", "[1]", "not json", R"({"variants": {}})", R"({"variants": [{"recipe": {}}]})",
        R"({"references": [{"name": "r", "campaign": 7}]})",
        R"({"eval": {"suites": [{"bench": "gsm8k"}]}})", R"({"eval": 3})",
        R"({"gates": {"probe": {}}})"}) {
    EXPECT_FALSE(ReadSpecOutline(text).ok()) << text;
  }
  ASSERT_OK_AND_ASSIGN(SpecOutline empty, ReadSpecOutline("{}"));
  EXPECT_TRUE(empty.variants.empty() && empty.suites.empty() && empty.references.empty());
}

TEST(ExpandTest, RefusesUnhashedInputs) {
  ASSERT_OK_AND_ASSIGN(Spec spec, ParseSpecText(Spec3(), "s.yaml", "/"));
  spec.contrib.digest.clear();
  spec.contrib.path = "/x";
  EXPECT_FALSE(ExpandSpec(spec).ok());
}

}  // namespace
}  // namespace cohort::client
