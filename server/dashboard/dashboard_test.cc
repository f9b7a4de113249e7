// The dashboard's handler on a real coordinator (SQLite in a temp folder):
// auth, routing, headers, and the views' JSON from store records. The
// pages over HTTP with a campaign run by real workers are
// tests/integration/dashboard_integration_test.cc.
#include "server/dashboard/dashboard.h"

#include "absl/strings/match.h"
#include "common/testing/fake_clock.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/dashboard/views.h"
#include "client/spec/expand.h"
#include "client/spec/spec.h"
#include "common/canonical_json.h"

namespace cohort::server::dashboard {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using nlohmann::json;

class DashboardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = CoordinatorStore::Open(dir_.Join("c.db"), {}).value();
    coordinator_ = Coordinator::Create(std::move(store), clock_, {}).value();
    dashboard_ = std::make_unique<Dashboard>(*coordinator_, clock_);
    client_ = coordinator_->CreateToken("client", "alice", std::nullopt).value();
    worker_ = coordinator_->CreateToken("worker", "w", std::nullopt).value();
  }
  HttpResponse Get(const std::string& path, const std::string& token = "") {
    HttpRequest r;
    r.method = "GET";
    size_t q = path.find('?');
    r.path = path.substr(0, q);
    if (q != std::string::npos) r.query = path.substr(q + 1);
    if (!token.empty()) r.authorization = "Bearer " + token;
    return dashboard_->Handle(r);
  }
  static std::string HeaderOf(const HttpResponse& r, const std::string& name) {
    for (const auto& [n, v] : r.headers) {
      if (n == name) return v;
    }
    return "";
  }

  testing::TempDir dir_;
  testing::FakeClock clock_;
  std::unique_ptr<Coordinator> coordinator_;
  std::unique_ptr<Dashboard> dashboard_;
  std::string client_, worker_;
};

TEST_F(DashboardTest, ServesThePagesWithoutATokenAndTheApiOnlyWithOne) {
  HttpResponse page = Get("/");
  EXPECT_EQ(page.status, 200);
  EXPECT_THAT(page.content_type, HasSubstr("text/html"));
  EXPECT_THAT(page.body, HasSubstr("/static/app.js"));
  EXPECT_EQ(Get("/static/app.js").status, 200);
  EXPECT_EQ(Get("/static/style.css").status, 200);
  EXPECT_EQ(Get("/static/../../etc/passwd").status, 404);
  EXPECT_EQ(Get("/static/nothing.js").status, 404);

  EXPECT_EQ(Get("/api/campaigns").status, 401);
  EXPECT_EQ(Get("/api/campaigns", "not-a-token").status, 401);
  HttpResponse as_worker = Get("/api/campaigns", worker_);
  EXPECT_EQ(as_worker.status, 403);
  EXPECT_THAT(as_worker.body, HasSubstr("worker token"));
  HttpResponse as_client = Get("/api/campaigns", client_);
  EXPECT_EQ(as_client.status, 200);
  EXPECT_EQ(json::parse(as_client.body)["campaigns"].size(), 0u);
  EXPECT_EQ(json::parse(Get("/api/whoami", client_).body)["identity"], "alice");
}

TEST_F(DashboardTest, EveryResponseForbidsInlineScriptAndCaching) {
  for (const char* path : {"/", "/api/campaigns", "/nowhere"}) {
    HttpResponse r = Get(path, client_);
    EXPECT_THAT(HeaderOf(r, "Content-Security-Policy"), HasSubstr("script-src 'self'")) << path;
    EXPECT_EQ(HeaderOf(r, "X-Content-Type-Options"), "nosniff") << path;
    EXPECT_EQ(HeaderOf(r, "Cache-Control"), "no-store") << path;
  }
}

TEST_F(DashboardTest, TheCookieFromLoginAuthenticatesAndOtherOriginsCannotLogIn) {
  HttpRequest login;
  login.method = "POST";
  login.path = "/login";
  login.host = "127.0.0.1:8080";
  login.origin = "http://127.0.0.1:8080";
  login.body = "token=" + client_;
  HttpResponse r = dashboard_->Handle(login);
  ASSERT_EQ(r.status, 200) << r.body;
  std::string cookie = HeaderOf(r, "Set-Cookie");
  EXPECT_THAT(cookie, HasSubstr("HttpOnly"));
  EXPECT_THAT(cookie, HasSubstr("SameSite=Strict"));
  EXPECT_THAT(cookie, Not(HasSubstr("Secure")));  // plain HTTP here

  HttpRequest get;
  get.method = "GET";
  get.path = "/api/whoami";
  get.cookie = "other=1; " + cookie.substr(0, cookie.find(';'));
  EXPECT_EQ(dashboard_->Handle(get).status, 200);

  login.origin = "https://evil.example";
  EXPECT_EQ(dashboard_->Handle(login).status, 403);
  login.origin = "http://127.0.0.1:8080";
  login.body = "token=wrong";
  EXPECT_EQ(dashboard_->Handle(login).status, 401);
  login.body = "token=" + worker_;
  EXPECT_EQ(dashboard_->Handle(login).status, 403);
  login.tls = true;
  login.body = "token=" + client_;
  EXPECT_THAT(HeaderOf(dashboard_->Handle(login), "Set-Cookie"), HasSubstr("; Secure"));
}

TEST_F(DashboardTest, OnlyGetAndTheSignInPost) {
  HttpRequest r;
  r.method = "DELETE";
  r.path = "/api/campaigns";
  r.authorization = "Bearer " + client_;
  EXPECT_EQ(dashboard_->Handle(r).status, 405);
  r.method = "POST";
  EXPECT_EQ(dashboard_->Handle(r).status, 405);
}

TEST_F(DashboardTest, AClientSeesOnlyItsOwnCampaigns) {
  std::string bob = coordinator_->CreateToken("client", "bob", std::nullopt).value();
  std::string admin = coordinator_->CreateToken("admin", "root", std::nullopt).value();
  std::vector<NodeSpec> nodes = {{"dm", StepKind::kDropmap, "{}",
                                  {{"contrib", "sha256:" + std::string(64, 'a'), "", ""}},
                                  {}, "dropmap", 0, "1"}};
  SubmitOutcome mine = coordinator_->Submit("mine", "{}", 0, "", nodes, false, nullptr, false,
                                            "alice").value();
  EXPECT_EQ(json::parse(Get("/api/campaigns", client_).body)["campaigns"].size(), 1u);
  EXPECT_EQ(json::parse(Get("/api/campaigns", bob).body)["campaigns"].size(), 0u);
  EXPECT_EQ(json::parse(Get("/api/campaigns", admin).body)["campaigns"].size(), 1u);
  EXPECT_EQ(Get("/api/campaigns/" + mine.campaign_id, client_).status, 200);
  HttpResponse theirs = Get("/api/campaigns/" + mine.campaign_id, bob);
  EXPECT_EQ(theirs.status, 403);
  EXPECT_THAT(theirs.body, HasSubstr("another client"));
  EXPECT_EQ(Get("/api/campaigns/" + mine.campaign_id + "/scoreboard", bob).status, 403);
  EXPECT_EQ(Get("/api/campaigns/nope", client_).status, 404);

  // A campaign not submitted from a cohort spec still has its steps page.
  json page = json::parse(Get("/api/campaigns/" + mine.campaign_id, client_).body);
  EXPECT_EQ(page["total"], 1);
  EXPECT_EQ(page["steps"]["ready"], 1);
  ASSERT_EQ(page["grid"].size(), 1u);
  EXPECT_EQ(page["grid"][0]["model"], "");
  EXPECT_EQ(page["grid"][0]["stages"]["dropmap"]["ready"], 1);

  HttpRequest events;
  events.path = "/api/events";
  events.authorization = "Bearer " + bob;
  events.query = "campaign=" + mine.campaign_id;
  EXPECT_EQ(dashboard_->OpenEvents(events, "").status().code(),
            absl::StatusCode::kPermissionDenied);
  events.query = "";
  EXPECT_EQ(dashboard_->OpenEvents(events, "").status().code(),
            absl::StatusCode::kPermissionDenied);  // every campaign: admins only
  events.authorization = "Bearer " + client_;
  events.query = "campaign=" + mine.campaign_id;
  absl::StatusOr<EventStream> stream = dashboard_->OpenEvents(events, "0");
  ASSERT_OK(stream.status());
  absl::StatusOr<std::string> frames = dashboard_->EventFrames(&*stream, 100);
  ASSERT_OK(frames.status());
  EXPECT_THAT(*frames, HasSubstr("\"type\":\"campaign_submitted\""));
  EXPECT_TRUE(absl::StartsWith(*frames, "id: "));
  EXPECT_GT(stream->cursor, 0u);
  EXPECT_EQ(dashboard_->EventFrames(&*stream, 100).value(), "");  // nothing new
}

// The page's grid counts by the labels its client gave each node; its cells
// add up to the store's tally, and the running step is listed.
TEST_F(DashboardTest, TheGridCountsEveryStepByItsLabel) {
  std::vector<NodeSpec> nodes;
  for (const char* id : {"a", "b", "c"}) {
    NodeSpec node{id, StepKind::kDropmap, std::string("{\"n\": \"") + id + "\"}",
                  {{"contrib", "sha256:" + std::string(64, 'a'), "", ""}},
                  {}, id, 0, "1"};
    node.model = id == std::string("c") ? "v2" : "v1";
    nodes.push_back(node);
  }
  SubmitOutcome c =
      coordinator_->Submit("three", "{}", 0, "", nodes, false, nullptr, false, "alice").value();
  WorkerCapacity worker;
  worker.worker_id = "w1";
  std::optional<absl::StatusOr<std::optional<LeaseGrant>>> lease;
  coordinator_->LeaseOrWait(worker, clock_.Now() + absl::Seconds(30),
                            [&](auto r) { lease = std::move(r); });
  ASSERT_TRUE(lease.has_value() && lease->ok() && lease->value().has_value());
  CampaignTally tally = coordinator_->TallyCampaign(c.campaign_id).value();
  std::map<StepState, int64_t> summed;
  std::map<std::string, int64_t> by_model;
  const std::vector<GridCell> grid = coordinator_->CampaignGrid(c.campaign_id).value();
  for (const GridCell& cell : grid) {
    summed[cell.state] += cell.steps;
    by_model[cell.model] += cell.steps;
    EXPECT_EQ(cell.kind, StepKind::kDropmap);
  }
  EXPECT_EQ(summed, tally.steps);
  EXPECT_EQ(summed[StepState::kLeased], 1);
  EXPECT_EQ(summed[StepState::kReady], 2);
  EXPECT_EQ(by_model, (std::map<std::string, int64_t>{{"v1", 2}, {"v2", 1}}));
  std::vector<StepRecord> running =
      coordinator_->CampaignStepsIn(c.campaign_id, StepState::kLeased, 10).value();
  ASSERT_EQ(running.size(), 1u);
  EXPECT_EQ(running[0].worker_id, "w1");
  EXPECT_FALSE(running[0].model.empty());
  EXPECT_EQ(coordinator_->UnlabelledSteps(c.campaign_id).value(), 0);
  EXPECT_EQ(coordinator_->CampaignStepsIn(c.campaign_id, StepState::kReady, 1).value().size(),
            1u);  // the limit holds
}

// A spec with shared chains, shards, a gate and both kinds of reference,
// expanded; its nodes as cohortd receives them, with or without the
// labels a current client sends.
struct ExpandedCampaign {
  std::string spec_json;
  std::vector<NodeSpec> nodes;
};

ExpandedCampaign ExpandForTest(bool labelled) {
  const std::string d = "sha256:" + std::string(64, 'a');
  const std::string g = "sha256:" + std::string(64, 'b');
  const std::string yaml =
      "kind: sweep\nname: demo\nbase_model: " + d + "\ncontrib: " + d +
      "\nrecipe:\n  dropmap: {target: 12}\n"
      "grid:\n  dropmap.class_weights: {a: [1, 2], b: [1, 3], c: [1, 3]}\n"
      "gates:\n  probe: {bench: gsm8k, dataset: " + d + ", fewshot: " + d + ", limit: 3}\n"
      "  condition: {metric: accuracy, op: '>=', value: 0.3}\n"
      "references:\n  - {name: base, gguf: " + g + "}\n"
      "  - {name: prior, campaign: c-0123456789abcdef, model: v7}\n"
      "eval:\n  profile: omk-card-2026-07\n  suites:\n"
      "    - {bench: gsm8k, dataset: " + d + ", fewshot: " + d + ", limit: 10, shards: 2}\n"
      "    - {bench: arc_challenge, dataset: " + d + ", limit: 5}\n";
  client::Spec spec = client::ParseSpecText(yaml, "s.yaml", "/").value();
  client::Graph graph = client::ExpandSpec(spec).value();
  ExpandedCampaign out;
  out.spec_json = CanonicalJson(client::NormalizedSpecJson(spec)).value();
  for (const client::GraphNode& n : graph.nodes) {
    NodeSpec node;
    node.node_id = n.id;
    node.kind = StepKindFromName(n.kind);
    node.params_json = CanonicalJson(n.params).value();
    node.display_name = n.display_name;
    for (const client::GraphInput& in : n.inputs) {
      node.inputs.push_back({in.name, in.digest, in.node_id, in.output});
    }
    if (labelled) {
      node.model = n.model;
      node.suite = n.suite;
    }
    out.nodes.push_back(std::move(node));
  }
  return out;
}

// A campaign from a client that sent no labels (an older CLI) is named by
// expanding its spec, the labels worked out are stored, and its pages say
// what a labelled campaign's say.
TEST_F(DashboardTest, ACampaignWithoutLabelsGetsThoseItsSpecGives) {
  ExpandedCampaign labelled = ExpandForTest(true);
  ExpandedCampaign bare = ExpandForTest(false);
  std::string with = coordinator_->Submit("with", labelled.spec_json, 0, "", labelled.nodes,
                                          false, nullptr, false, "alice")
                         .value()
                         .campaign_id;
  std::string without = coordinator_->Submit("without", bare.spec_json, 0, "", bare.nodes,
                                             false, nullptr, false, "alice")
                            .value()
                            .campaign_id;
  EXPECT_EQ(coordinator_->UnlabelledSteps(with).value(), 0);
  EXPECT_EQ(coordinator_->UnlabelledSteps(without).value(),
            static_cast<int64_t>(coordinator_->CampaignStepStates(without).value().size()));
  auto page = [&](const std::string& id, const std::string& view) {
    HttpResponse r = Get("/api/campaigns/" + id + view, client_);
    EXPECT_EQ(r.status, 200) << r.body;
    json j = json::parse(r.body);
    for (const char* varying : {"id", "name", "created_us"}) j.erase(varying);
    return j;
  };
  json named = page(with, "");
  json expanded = page(without, "");
  EXPECT_EQ(named, expanded);
  // c shares b's chain and scores; prior's rows come from its campaign.
  std::vector<std::string> grid_models;
  for (const json& row : named["grid"]) grid_models.push_back(row["model"]);
  const std::vector<std::string> variants = named["models"];
  ASSERT_EQ(variants.size(), 5u);
  EXPECT_EQ(grid_models, (std::vector<std::string>{variants[0], variants[1], "base"}));
  EXPECT_EQ(named["references"], json({"base", "prior"}));
  EXPECT_EQ(named["suites"], json({"gsm8k-10", "arc_challenge-5", "probe-gsm8k-3"}));
  EXPECT_EQ(coordinator_->UnlabelledSteps(without).value(), 0);  // stored
  // The stored labels are what the labelled client sent.
  std::map<std::string, std::pair<std::string, std::string>> sent, stored;
  const std::vector<StepRecord> with_steps = coordinator_->CampaignStepStates(with).value();
  const std::vector<StepRecord> without_steps = coordinator_->CampaignStepStates(without).value();
  for (const StepRecord& s : with_steps) {
    sent[s.key] = {s.model, s.kind == StepKind::kScore ? s.suite : ""};
  }
  for (const StepRecord& s : without_steps) {
    stored[s.key] = {s.model, s.kind == StepKind::kScore ? s.suite : ""};
  }
  EXPECT_EQ(sent, stored);

  // And the score steps (the scoreboard's and length tables' rows) match.
  internal::CampaignNames from_labels = internal::NameFromStoredLabels(
      client::ReadSpecOutline(labelled.spec_json).value(),
      coordinator_->CampaignScoreLabels(with).value());
  std::vector<client::StepView> views;
  for (const StepRecord& s : with_steps) {
    client::StepView v;
    v.key = s.key;
    v.kind = std::string(StepKindName(s.kind));
    v.node_id = s.node_id;
    views.push_back(v);
  }
  internal::CampaignNames from_spec =
      internal::NameCampaign(client::LabelCampaign(labelled.spec_json, views));
  EXPECT_EQ(from_labels.score_steps, from_spec.score_steps);
  EXPECT_EQ(from_labels.score_steps.size(), 3u + 3 + 2);  // a and b: 2 suites and the probe
  EXPECT_EQ(from_labels.models, from_spec.models);
  EXPECT_EQ(from_labels.suites, from_spec.suites);
  EXPECT_EQ(from_labels.references, from_spec.references);
  ASSERT_EQ(from_labels.earlier_references.size(), 1u);
  EXPECT_EQ(from_labels.earlier_references[0].campaign, "c-0123456789abcdef");
  EXPECT_EQ(from_labels.earlier_references[0].model, "v7");
}

TEST(ViewsTest, EtaFromThePaceSoFarAndNoneOnceFinished) {
  CampaignRecord c;
  c.id = "c1";
  c.state = CampaignState::kRunning;
  c.created = absl::FromUnixSeconds(1000);
  CampaignTally tally;
  tally.steps = {{StepState::kSucceeded, 4}, {StepState::kReady, 6}, {StepState::kLeased, 2}};
  tally.workers = 2;
  tally.first_started = absl::FromUnixSeconds(1000);
  json j = internal::CampaignSummaryJson(c, tally, absl::FromUnixSeconds(1400));
  EXPECT_EQ(j["total"], 12);
  EXPECT_EQ(j["done"], 4);
  EXPECT_EQ(j["workers"], 2);
  EXPECT_DOUBLE_EQ(j["eta_seconds"].get<double>(), 100.0 * 8);  // 100 s a step, 8 left
  c.state = CampaignState::kSucceeded;
  EXPECT_TRUE(internal::CampaignSummaryJson(c, tally, absl::FromUnixSeconds(1400))["eta_seconds"]
                  .is_null());
}

TEST(ViewsTest, FailuresCarryTheirLogTailAndListsAreCapped) {
  CampaignRecord c;
  c.state = CampaignState::kRunning;
  std::vector<StepRecord> steps(3);  // the first three of five, as CampaignStepsIn lists them
  for (size_t i = 0; i < steps.size(); ++i) {
    steps[i].key = "k" + std::to_string(i);
    steps[i].kind = StepKind::kQuantize;
    steps[i].state = StepState::kFailed;
    steps[i].last_error = "exit 1";
    steps[i].log_tail = std::string(20000, 'x') + "the end";
  }
  std::vector<GridCell> grid = {{"", StepKind::kQuantize, StepState::kFailed, 5}};
  json j = internal::CampaignDetailJson(c, {}, grid, {}, steps,
                                        internal::NameCampaign(std::nullopt), absl::Now());
  EXPECT_EQ(j["failure_total"], 5);
  ASSERT_EQ(j["failures"].size(), 3u);
  std::string tail = j["failures"][0]["log_tail"];
  EXPECT_TRUE(absl::EndsWith(tail, "the end"));
  EXPECT_LT(tail.size(), 17000u);
  EXPECT_EQ(j["grid"][0]["stages"]["quantize"]["failed"], 5);
}

TEST(ViewsTest, WorkersShowTheirMachineAndLeasesNotTheirArtifactList) {
  WorkerRecord w;
  w.id = "gpu-1";
  w.last_heartbeat = absl::FromUnixSeconds(100);
  w.info_json = R"({"hostname":"node7","gpus":[{"index":0,"model":"H100","memoryBytes":"85"}],)"
                R"("tools":[{"name":"llama-server","version":"b7001","fingerprint":"x"}],)"
                R"("heldArtifacts":["sha256:a","sha256:b"]})";
  StepRecord leased;
  leased.key = "k";
  leased.worker_id = "gpu-1";
  leased.display_name = "generate v1 gsm8k";
  leased.progress_json = R"({"done":3,"total":10,"unit":"problems","gpus":[0]})";
  json j = internal::WorkersJson({w}, {leased}, absl::FromUnixSeconds(110), absl::Seconds(30),
                                 absl::Hours(24));
  ASSERT_EQ(j["workers"].size(), 1u);
  const json& x = j["workers"][0];
  EXPECT_EQ(x["state"], "live");
  EXPECT_EQ(x["info"]["hostname"], "node7");
  EXPECT_EQ(x["info"]["gpus"][0]["model"], "H100");
  EXPECT_FALSE(x["info"].contains("heldArtifacts"));
  EXPECT_EQ(x["leases"][0]["progress"]["done"], 3);
  EXPECT_EQ(internal::WorkersJson({w}, {}, absl::FromUnixSeconds(200), absl::Seconds(30),
                                  absl::Hours(24))["workers"][0]["state"], "lost");
  EXPECT_EQ(internal::WorkersJson({w}, {}, absl::FromUnixSeconds(100 + 90000), absl::Seconds(30),
                                  absl::Hours(24))["workers"].size(), 0u);
}

TEST(ViewsTest, MalformedProgressReadsAsZeros) {
  json p = internal::ProgressJson(R"({"done":"many","total":-1,"unit":7,"gpus":"x"})");
  EXPECT_EQ(p["done"], 0);
  EXPECT_EQ(p["total"], 0);
  EXPECT_EQ(p["unit"], "");
  EXPECT_FALSE(p.contains("gpus"));
  EXPECT_EQ(internal::ProgressJson("not json")["done"], 0);
}

}  // namespace
}  // namespace cohort::server::dashboard
