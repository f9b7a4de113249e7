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

// The campaign page tallies the steps it already read; the list asks the
// store. Both must say the same.
TEST_F(DashboardTest, TheStepsTallyEqualsTheStoresTally) {
  std::vector<NodeSpec> nodes;
  for (const char* id : {"a", "b", "c"}) {
    nodes.push_back({id, StepKind::kDropmap, std::string("{\"n\": \"") + id + "\"}",
                     {{"contrib", "sha256:" + std::string(64, 'a'), "", ""}},
                     {}, id, 0, "1"});
  }
  SubmitOutcome c =
      coordinator_->Submit("three", "{}", 0, "", nodes, false, nullptr, false, "alice").value();
  WorkerCapacity worker;
  worker.worker_id = "w1";
  std::optional<absl::StatusOr<std::optional<LeaseGrant>>> lease;
  coordinator_->LeaseOrWait(worker, clock_.Now() + absl::Seconds(30),
                            [&](auto r) { lease = std::move(r); });
  ASSERT_TRUE(lease.has_value() && lease->ok() && lease->value().has_value());
  CampaignTally from_store = coordinator_->TallyCampaign(c.campaign_id).value();
  CampaignTally from_steps =
      internal::TallySteps(coordinator_->CampaignStepStates(c.campaign_id).value());
  EXPECT_EQ(from_steps.steps, from_store.steps);
  EXPECT_EQ(from_steps.steps[StepState::kLeased], 1);
  EXPECT_EQ(from_steps.steps[StepState::kReady], 2);
  EXPECT_EQ(from_steps.workers, 1);
  EXPECT_EQ(from_steps.workers, from_store.workers);
  ASSERT_TRUE(from_steps.first_started.has_value());
  EXPECT_EQ(from_steps.first_started, from_store.first_started);
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
  std::vector<StepRecord> steps(5);
  for (size_t i = 0; i < steps.size(); ++i) {
    steps[i].key = "k" + std::to_string(i);
    steps[i].kind = StepKind::kQuantize;
    steps[i].state = StepState::kFailed;
    steps[i].last_error = "exit 1";
    steps[i].log_tail = std::string(20000, 'x') + "the end";
  }
  json j = internal::CampaignDetailJson(c, {}, steps, internal::NameCampaign(std::nullopt),
                                        absl::Now(), 3);
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
