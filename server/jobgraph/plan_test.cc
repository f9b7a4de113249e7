#include "server/jobgraph/plan.h"

#include <set>
#include <tuple>

#include "common/canonical_json.h"
#include "common/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace cohort::server {
namespace {

using ::cohort::testing::StatusIs;
using ::testing::HasSubstr;

const std::string kBase = "sha256:" + std::string(64, 'a');
const std::string kContrib = "sha256:" + std::string(64, 'b');

// dropmap -> prune -> upweight, the head of one variant's chain.
std::vector<NodeSpec> Chain() {
  NodeSpec dropmap{"dm", StepKind::kDropmap, R"({"target": 98, "alpha": 1.0})",
                   {{"contrib", kContrib, "", ""}}, {}, "", 0, "1"};
  NodeSpec prune{"pr", StepKind::kPrune, R"({"layout": "gemma4"})",
                 {{"checkpoint", kBase, "", ""}, {"drop_map", "", "dm", "drop_map"}},
                 {}, "", 0, "1"};
  NodeSpec upweight{"up", StepKind::kUpweight, R"({"alpha": 1.2})",
                    {{"checkpoint", "", "pr", "checkpoint"}}, {}, "", 0, "1"};
  return {upweight, prune, dropmap};  // deliberately not in order
}

TEST(PlanTest, OrdersTopologicallyAndLinksParents) {
  ASSERT_OK_AND_ASSIGN(std::vector<PlannedStep> steps, PlanCampaign(Chain()));
  ASSERT_EQ(steps.size(), 3u);
  EXPECT_EQ(steps[0].node_id, "dm");
  EXPECT_EQ(steps[1].node_id, "pr");
  EXPECT_EQ(steps[2].node_id, "up");
  EXPECT_TRUE(steps[0].parent_keys.empty());
  EXPECT_EQ(steps[1].parent_keys, std::vector<std::string>{steps[0].key});
  EXPECT_EQ(steps[2].parent_keys, std::vector<std::string>{steps[1].key});
  EXPECT_EQ(steps[1].inputs[1].source_step_key, steps[0].key);
  EXPECT_EQ(steps[0].params_json, R"({"alpha":1,"target":98})");
  EXPECT_EQ(steps[0].max_attempts, 3u);
  for (const PlannedStep& s : steps) EXPECT_TRUE(IsValidDigest(s.key)) << s.key;
}

TEST(PlanTest, IdenticalCampaignGivesIdenticalKeys) {
  ASSERT_OK_AND_ASSIGN(auto a, PlanCampaign(Chain()));
  std::vector<NodeSpec> renamed = Chain();
  // Node ids and display names are labels, not inputs: same keys.
  for (NodeSpec& n : renamed) n.display_name = "other " + n.node_id;
  renamed[0].params_json = R"({ "alpha" : 1.2 })";  // same JSON, other spelling
  ASSERT_OK_AND_ASSIGN(auto b, PlanCampaign(renamed));
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].key, b[i].key);
}

// The key is defined as the hash of one canonical document; the planner
// assembles it around the canonical params. Both must give the same bytes,
// or every stored step would miss the cache after an upgrade.
TEST(PlanTest, KeyIsTheHashOfTheCanonicalDocument) {
  std::vector<NodeSpec> nodes = Chain();
  nodes[0].params_json = R"({"z": [1.0, -0.0, 1e300], "a": "\u00e9\"\\\n", "m": {"y": null, "b": true}})";
  nodes[0].impl_version = "v\"1\u00e9";
  nodes[0].inputs[0].name = "contrib-\u00e9";
  ASSERT_OK_AND_ASSIGN(auto planned, PlanCampaign(nodes));
  for (const PlannedStep& step : planned) {
    nlohmann::json refs = nlohmann::json::object();
    for (const StepInput& in : step.inputs) {
      refs[in.name] = in.artifact_digest.empty()
                          ? nlohmann::json{{"step", in.source_step_key},
                                           {"output", in.source_output}}
                          : nlohmann::json{{"digest", in.artifact_digest}};
    }
    nlohmann::json doc = {{"kind", std::string(StepKindName(step.kind))},
                          {"impl", step.impl_version},
                          {"params", nlohmann::json::parse(step.params_json)},
                          {"inputs", refs}};
    ASSERT_OK_AND_ASSIGN(std::string hex, CanonicalJsonSha256(doc));
    EXPECT_EQ(step.key, "sha256:" + hex) << step.node_id;
    ASSERT_OK_AND_ASSIGN(std::string again,
                         ComputeStepKey(step.kind, step.impl_version,
                                        step.params_json, step.inputs));
    EXPECT_EQ(again, step.key);
  }
}

// An input name given twice keeps its last value, as a JSON object would:
// the key is that of the inputs without the first.
TEST(PlanTest, AnInputNamedTwiceKeepsItsLastValue) {
  const std::string a = "sha256:" + std::string(64, 'a');
  const std::string b = "sha256:" + std::string(64, 'b');
  ASSERT_OK_AND_ASSIGN(std::string twice,
                       ComputeStepKey(StepKind::kDropmap, "1", "{}",
                                      {StepInput{"contrib", a, "", ""},
                                       StepInput{"contrib", b, "", ""}}));
  ASSERT_OK_AND_ASSIGN(std::string last, ComputeStepKey(StepKind::kDropmap, "1", "{}",
                                                        {StepInput{"contrib", b, "", ""}}));
  ASSERT_OK_AND_ASSIGN(std::string first, ComputeStepKey(StepKind::kDropmap, "1", "{}",
                                                         {StepInput{"contrib", a, "", ""}}));
  EXPECT_EQ(twice, last);
  EXPECT_NE(twice, first);
}

// Flipping any single component of a step's key changes that key and every
// key downstream of it (100% cache misses for a mutated input).
TEST(PlanTest, EveryKeyComponentMatters) {
  ASSERT_OK_AND_ASSIGN(auto base, PlanCampaign(Chain()));
  std::vector<std::function<void(std::vector<NodeSpec>&)>> mutations = {
      [](auto& n) { n[2].params_json = R"({"target": 97, "alpha": 1.0})"; },
      [](auto& n) { n[2].inputs[0].artifact_digest = "sha256:" + std::string(64, 'c'); },
      [](auto& n) { n[2].impl_version = "2"; },
      [](auto& n) { n[2].kind = StepKind::kImatrix; },
      [](auto& n) { n[2].inputs[0].name = "contribution"; },
  };
  for (size_t m = 0; m < mutations.size(); ++m) {
    std::vector<NodeSpec> nodes = Chain();
    mutations[m](nodes);
    ASSERT_OK_AND_ASSIGN(auto mutated, PlanCampaign(nodes));
    for (size_t i = 0; i < base.size(); ++i) {
      EXPECT_NE(base[i].key, mutated[i].key) << "mutation " << m << " step " << i;
    }
  }
  // A change at the tail leaves the upstream keys alone.
  std::vector<NodeSpec> nodes = Chain();
  nodes[0].params_json = R"({"alpha": 1.05})";
  ASSERT_OK_AND_ASSIGN(auto tail, PlanCampaign(nodes));
  EXPECT_EQ(tail[0].key, base[0].key);
  EXPECT_EQ(tail[1].key, base[1].key);
  EXPECT_NE(tail[2].key, base[2].key);
}

TEST(PlanTest, RejectsBadGraphs) {
  std::vector<NodeSpec> nodes = Chain();
  nodes[1].node_id = "up";
  EXPECT_THAT(PlanCampaign(nodes),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("used twice")));

  nodes = Chain();
  nodes[0].inputs[0].node_id = "nope";
  EXPECT_THAT(PlanCampaign(nodes),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'nope'")));

  nodes = Chain();
  nodes[2].inputs.push_back({"loop", "", "up", "checkpoint"});
  EXPECT_THAT(PlanCampaign(nodes),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("cycle")));

  nodes = Chain();
  nodes[2].inputs[0].artifact_digest = "md5:1234";
  EXPECT_THAT(PlanCampaign(nodes),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("not a sha256:<64 hex> digest")));

  nodes = Chain();
  nodes[2].params_json = "[1, 2]";
  EXPECT_THAT(PlanCampaign(nodes),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("params must be a JSON object")));

  nodes = Chain();
  nodes[1].inputs[1].artifact_digest = kBase;  // both digest and node
  EXPECT_THAT(PlanCampaign(nodes),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("exactly one")));

  // 20,000 nested arrays in 40 KB overflowed cohortd's stack in the
  // canonical form; the depth is refused before anything recurses.
  nodes = Chain();
  nodes[2].params_json = "{\"a\":" + std::string(20000, '[') + std::string(20000, ']') + "}";
  EXPECT_THAT(PlanCampaign(nodes),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("nests deeper than")));

  // Params of the wrong type are refused at submit, naming the field: a
  // worker meeting `{"bench": 1}` could only fail the step.
  nodes = Chain();
  nodes[0].params_json = R"({"alpha": "1.2", "target": "mlp.down_proj.weight"})";
  EXPECT_THAT(PlanCampaign(nodes),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("params.alpha must be a number, not string")));
  for (const auto& [kind, params, why] :
       std::vector<std::tuple<StepKind, std::string, std::string>>{
           {StepKind::kScore, R"({"bench": 1, "profile": {}})", "params.bench must be a string"},
           {StepKind::kGenerate, R"({"bench": "gsm8k", "profile": []})",
            "params.profile must be an object, not array"},
           {StepKind::kGenerate, R"({"server": {"parallel": "2"}})",
            "params.server.parallel must be an integer"},
           {StepKind::kDropmap, R"({"flags": "--data=/etc/passwd"})",
            "params.flags must be an object"},
           {StepKind::kGate, R"({"value": "0.5"})", "params.value must be a number"},
           {StepKind::kQuantmap, R"({"target_bpw": "5.5"})", "params.target_bpw must be a number"},
           {StepKind::kQuantmap, R"({"target_bpw": 5.5, "types": "q4_K"})",
            "params.types must be a list, not string"},
           {StepKind::kQuantize, R"({"type": "Q6_K", "tensor_types": {}})",
            "params.tensor_types must be a list, not object"},
           {StepKind::kGenerate, R"({"vllm": {"parallel": 2, "trust_remote_code": true}})",
            "params.vllm.trust_remote_code: not a setting"},
           {StepKind::kGenerate, R"({"vllm": {"parallel": 2, "dtype": "--enforce-eager"}})",
            "params.vllm.dtype"}}) {
    nodes = Chain();
    nodes[0].kind = kind;
    nodes[0].params_json = params;
    EXPECT_THAT(PlanCampaign(nodes), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(why)))
        << params;
  }
  // The same text is fine for a kind that reads no such field.
  nodes = Chain();
  nodes[0].params_json = R"({"bench": 1})";
  EXPECT_OK(PlanCampaign(nodes).status());

  nodes = Chain();
  nodes[0].kind = StepKind::kUnspecified;
  EXPECT_THAT(PlanCampaign(nodes),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown step kind")));
}

// Input and output names become file names on workers: anything that could
// leave a folder is refused before a step is stored.
TEST(PlanTest, RejectsInputAndOutputNamesThatAreNotPlainNames) {
  struct Case {
    std::string name;
    const char* why;
  };
  const Case cases[] = {{"../x", "'..'"},           {"/etc/passwd", "absolute"},
                        {"a/../../b", "'..'"},      {std::string("a\0b", 3), "NUL"},
                        {"", "empty"},              {"a/b", "'/'"}};
  for (const Case& c : cases) {
    std::vector<NodeSpec> nodes = Chain();
    nodes[1].inputs[0].name = c.name;
    EXPECT_THAT(PlanCampaign(nodes),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         ::testing::AllOf(HasSubstr("'pr'"), HasSubstr("input name"),
                                          HasSubstr(c.why))))
        << c.name;
    if (c.name.empty()) continue;  // an empty output is "names no output"
    nodes = Chain();
    nodes[1].inputs[1].output = c.name;
    EXPECT_THAT(PlanCampaign(nodes),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         ::testing::AllOf(HasSubstr("output name"), HasSubstr(c.why))))
        << c.name;
  }
}

TEST(PlanTest, LargeCampaignPlansQuickly) {
  // 10 base steps fanning out to 10,000 leaves: planning is linear.
  std::vector<NodeSpec> nodes;
  for (int i = 0; i < 10; ++i) {
    nodes.push_back({"root" + std::to_string(i), StepKind::kDropmap,
                     "{\"i\": " + std::to_string(i) + "}", {{"c", kContrib, "", ""}},
                     {}, "", 0, "1"});
  }
  for (int i = 0; i < 10000; ++i) {
    nodes.push_back({"leaf" + std::to_string(i), StepKind::kScore,
                     "{\"i\": " + std::to_string(i) + "}",
                     {{"in", "", "root" + std::to_string(i % 10), "drop_map"}},
                     {}, "", 0, "1"});
  }
  ASSERT_OK_AND_ASSIGN(auto steps, PlanCampaign(nodes));
  std::set<std::string> keys;
  for (const auto& s : steps) keys.insert(s.key);
  EXPECT_EQ(keys.size(), nodes.size());
}

// 10,000 dropmap -> prune chains; the prune of chain `bad` (if any) has
// params that are not a JSON object.
std::vector<NodeSpec> Chains(int n, int bad = -1) {
  std::vector<NodeSpec> nodes;
  for (int i = 0; i < n; ++i) {
    std::string dm = "dm" + std::to_string(i);
    nodes.push_back({dm, StepKind::kDropmap, "{\"target\": " + std::to_string(i) + "}",
                     {{"contrib", kContrib, "", ""}}, {}, "", 0, "1"});
    nodes.push_back({"pr" + std::to_string(i), StepKind::kPrune, i == bad ? "[1]" : "{}",
                     {{"checkpoint", kBase, "", ""}, {"drop_map", "", dm, "drop_map"}},
                     {}, "", 0, "1"});
  }
  return nodes;
}

TEST(BackgroundPlannerTest, PlansWhatPlanCampaignPlansWhileTheConsumerReads) {
  std::vector<NodeSpec> nodes = Chains(5000);
  ASSERT_OK_AND_ASSIGN(std::vector<PlannedStep> expected, PlanCampaign(nodes));
  ASSERT_OK_AND_ASSIGN(auto planner, CampaignPlanner::Create(nodes));
  BackgroundPlanner background(std::move(planner));
  ASSERT_EQ(background.size(), expected.size());
  // Read in small steps, as the store does, while planning goes on.
  for (size_t read = 0; read < background.size();) {
    ASSERT_OK_AND_ASSIGN(size_t ready, background.WaitFor(read + 100));
    ASSERT_GE(ready, std::min(read + 100, background.size()));
    for (; read < ready; ++read) {
      EXPECT_EQ(background.steps()[read].key, expected[read].key) << read;
      EXPECT_EQ(background.steps()[read].ordinal, expected[read].ordinal);
    }
  }
  std::vector<PlannedStep> all = background.TakeSteps();
  ASSERT_EQ(all.size(), expected.size());
  EXPECT_EQ(all.back().parent_keys, expected.back().parent_keys);
}

TEST(BackgroundPlannerTest, ALateBadNodeIsTheErrorAndAnEarlyExitJoins) {
  std::vector<NodeSpec> nodes = Chains(5000, /*bad=*/4000);
  ASSERT_OK_AND_ASSIGN(auto planner, CampaignPlanner::Create(nodes));
  BackgroundPlanner background(std::move(planner));
  ASSERT_OK_AND_ASSIGN(size_t ready, background.WaitFor(10));
  EXPECT_GE(ready, 10u);
  EXPECT_THAT(background.WaitFor(background.size()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::AllOf(HasSubstr("pr4000"), HasSubstr("JSON object"))));
  // A consumer that gives up early: the destructor stops the thread.
  ASSERT_OK_AND_ASSIGN(auto other, CampaignPlanner::Create(nodes));
  { BackgroundPlanner abandoned(std::move(other)); }
}

TEST(StepNamesTest, RoundTrip) {
  for (int k = 1; k <= 10; ++k) {
    StepKind kind = static_cast<StepKind>(k);
    EXPECT_EQ(StepKindFromName(StepKindName(kind)), kind);
  }
  EXPECT_EQ(StepKindFromName("bogus"), StepKind::kUnspecified);
  EXPECT_TRUE(IsTerminal(StepState::kSucceeded));
  EXPECT_FALSE(IsTerminal(StepState::kLeased));
}

}  // namespace
}  // namespace cohort::server
