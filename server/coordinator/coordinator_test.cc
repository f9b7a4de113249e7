#include "server/coordinator/coordinator.h"

#include <atomic>

#include "common/testing/fake_clock.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gtest/gtest.h"

namespace cohort::server {
namespace {

using ::cohort::testing::FakeClock;
using ::cohort::testing::TempDir;

const std::string kContrib = "sha256:" + std::string(64, 'b');

std::vector<NodeSpec> OneStep(const std::string& tag) {
  return {{"dm", StepKind::kDropmap, "{\"tag\": \"" + tag + "\"}",
           {{"contrib", kContrib, "", ""}}, {}, "", 0, "1"}};
}

class CoordinatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = CoordinatorStore::Open(dir_.Join("c.db"), {}).value();
    coordinator_ = Coordinator::Create(std::move(store), clock_, {}).value();
  }
  WorkerCapacity Worker(const std::string& id) {
    WorkerCapacity w;
    w.worker_id = id;
    return w;
  }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<Coordinator> coordinator_;
};

TEST_F(CoordinatorTest, ParkedPollIsAnsweredWhenWorkArrives) {
  std::optional<absl::StatusOr<std::optional<LeaseGrant>>> answer;
  coordinator_->LeaseOrWait(Worker("w1"), clock_.Now() + absl::Seconds(30),
                            [&](auto r) { answer = std::move(r); });
  EXPECT_FALSE(answer.has_value());  // parked, no thread blocked
  EXPECT_EQ(coordinator_->GetStats().waiting_workers, 1u);
  ASSERT_OK(coordinator_->Submit("a", "{}", 0, "", OneStep("x"), false, nullptr).status());
  ASSERT_TRUE(answer.has_value());  // served within Submit
  ASSERT_OK(answer->status());
  ASSERT_TRUE(answer->value().has_value());
  EXPECT_EQ(answer->value()->step.kind, StepKind::kDropmap);
  EXPECT_EQ(coordinator_->GetStats().waiting_workers, 0u);
}

// A grant the parked worker never received (it died while parked) goes to
// the next worker at once, without counting an attempt; the lost grant's
// epoch is fenced.
TEST_F(CoordinatorTest, UndeliveredLeaseGoesBackWithoutSpendingAnAttempt) {
  std::optional<absl::StatusOr<std::optional<LeaseGrant>>> lost;
  coordinator_->LeaseOrWait(Worker("dead"), clock_.Now() + absl::Seconds(30),
                            [&](auto r) { lost = std::move(r); });
  ASSERT_OK(coordinator_->Submit("a", "{}", 0, "", OneStep("x"), false, nullptr).status());
  ASSERT_TRUE(lost.has_value() && lost->ok() && lost->value().has_value());
  const LeaseGrant& grant = *lost->value();
  ASSERT_OK(coordinator_->ReturnUndelivered({grant.lease_id, grant.epoch, ""}));
  std::optional<absl::StatusOr<std::optional<LeaseGrant>>> next;
  coordinator_->LeaseOrWait(Worker("alive"), clock_.Now() + absl::Seconds(30),
                            [&](auto r) { next = std::move(r); });
  ASSERT_TRUE(next.has_value() && next->ok() && next->value().has_value());
  EXPECT_EQ(next->value()->step.key, grant.step.key);
  EXPECT_EQ(next->value()->step.attempts, 1u);
  EXPECT_EQ(next->value()->epoch, grant.epoch + 1);
  EXPECT_FALSE(coordinator_->ReturnUndelivered({grant.lease_id, grant.epoch, ""}).ok());
}

TEST_F(CoordinatorTest, PollTimesOutEmpty) {
  std::optional<absl::StatusOr<std::optional<LeaseGrant>>> answer;
  coordinator_->LeaseOrWait(Worker("w1"), clock_.Now() + absl::Seconds(5),
                            [&](auto r) { answer = std::move(r); });
  clock_.Advance(absl::Seconds(4));
  coordinator_->Tick();
  EXPECT_FALSE(answer.has_value());
  clock_.Advance(absl::Seconds(2));
  coordinator_->Tick();
  ASSERT_TRUE(answer.has_value());
  ASSERT_OK(answer->status());
  EXPECT_FALSE(answer->value().has_value());
}

TEST_F(CoordinatorTest, NewerPollReplacesOlderOfSameWorker) {
  int answered = 0;
  coordinator_->LeaseOrWait(Worker("w1"), clock_.Now() + absl::Seconds(30),
                            [&](auto r) { ++answered; EXPECT_FALSE(r->has_value()); });
  coordinator_->LeaseOrWait(Worker("w1"), clock_.Now() + absl::Seconds(30),
                            [&](auto) { ++answered; });
  EXPECT_EQ(answered, 1);
  EXPECT_EQ(coordinator_->GetStats().waiting_workers, 1u);
}

TEST_F(CoordinatorTest, DeadWorkerStepIsReleasedOnTick) {
  ASSERT_OK(coordinator_->Submit("a", "{}", 0, "", OneStep("x"), false, nullptr).status());
  std::optional<LeaseGrant> first;
  coordinator_->LeaseOrWait(Worker("w1"), clock_.Now(), [&](auto r) { first = **r; });
  ASSERT_TRUE(first.has_value());
  std::optional<absl::StatusOr<std::optional<LeaseGrant>>> second;
  coordinator_->LeaseOrWait(Worker("w2"), clock_.Now() + absl::Seconds(60),
                            [&](auto r) { second = std::move(r); });
  EXPECT_FALSE(second.has_value());
  clock_.Advance(absl::Seconds(31));  // the lease TTL passes without heartbeats
  coordinator_->Tick();
  ASSERT_TRUE(second.has_value());
  ASSERT_TRUE(second->value().has_value());
  EXPECT_EQ(second->value()->step.key, first->step.key);
  EXPECT_EQ(second->value()->epoch, 2u);
  EXPECT_EQ(coordinator_->GetStats().leases_expired, 1u);
}

TEST_F(CoordinatorTest, WatchersAreNotifiedAfterCommit) {
  std::atomic<int> notified{0};
  uint64_t id = coordinator_->Subscribe([&] { ++notified; });
  ASSERT_OK_AND_ASSIGN(auto outcome,
                       coordinator_->Submit("a", "{}", 0, "", OneStep("x"), false, nullptr));
  EXPECT_EQ(notified.load(), 1);
  ASSERT_OK_AND_ASSIGN(auto events, coordinator_->Events(outcome.campaign_id, 0, 100));
  EXPECT_FALSE(events.empty());  // committed before the notification
  coordinator_->Unsubscribe(id);
  ASSERT_OK(coordinator_->Cancel(outcome.campaign_id));
  EXPECT_EQ(notified.load(), 1);
}

TEST_F(CoordinatorTest, DryRunStoresNothing) {
  std::vector<PlannedStep> planned;
  ASSERT_OK_AND_ASSIGN(auto dry, coordinator_->Submit("a", "{}", 0, "", OneStep("x"),
                                                      true, &planned));
  EXPECT_EQ(dry.steps_to_run, 1u);
  EXPECT_EQ(planned.size(), 1u);
  EXPECT_TRUE(coordinator_->ListCampaigns(10)->empty());
}

// A campaign big enough to be planned beside the store: a node whose params
// are bad, far down the plan, fails the submit and leaves nothing behind.
TEST_F(CoordinatorTest, BigCampaignWithALateBadNodeStoresNothing) {
  const std::string base = "sha256:" + std::string(64, 'a');
  std::vector<NodeSpec> nodes;
  for (int i = 0; i < 6000; ++i) {
    std::string dm = "dm" + std::to_string(i);
    nodes.push_back({dm, StepKind::kDropmap, "{\"i\": " + std::to_string(i) + "}",
                     {{"contrib", kContrib, "", ""}}, {}, "", 0, "1"});
    nodes.push_back({"pr" + std::to_string(i), StepKind::kPrune,
                     i == 5900 ? "\"not an object\"" : "{}",
                     {{"checkpoint", base, "", ""}, {"drop_map", "", dm, "drop_map"}},
                     {}, "", 0, "1"});
  }
  EXPECT_THAT(coordinator_->Submit("big", "{}", 0, "", nodes, false, nullptr),
              ::cohort::testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                          ::testing::HasSubstr("pr5900")));
  EXPECT_TRUE(coordinator_->ListCampaigns(10)->empty());
  // Without the bad node: none of its steps was kept, and it is stored whole.
  nodes[2 * 5900 + 1].params_json = "{}";
  std::vector<PlannedStep> planned;
  ASSERT_OK_AND_ASSIGN(auto dry, coordinator_->Submit("big", "{}", 0, "", nodes, true,
                                                      &planned));
  EXPECT_EQ(dry.steps_cached, 0u);
  EXPECT_EQ(dry.steps_to_run, 12000u);
  ASSERT_OK_AND_ASSIGN(SubmitOutcome outcome,
                       coordinator_->Submit("big", "{}", 0, "", nodes, false, &planned));
  EXPECT_EQ(outcome.steps_total, 12000u);
  EXPECT_EQ(planned.size(), 12000u);
  ASSERT_OK_AND_ASSIGN(auto steps, coordinator_->CampaignSteps(outcome.campaign_id));
  EXPECT_EQ(steps.size(), 12000u);
  ASSERT_OK_AND_ASSIGN(StepRecord last, coordinator_->GetStep(planned.back().key));
  EXPECT_EQ(last.state, StepState::kWaiting);
  EXPECT_EQ(last.inputs[1].source_step_key, planned[planned.size() - 2].key);
}

TEST_F(CoordinatorTest, ShutdownAnswersParkedPolls) {
  std::optional<absl::StatusOr<std::optional<LeaseGrant>>> answer;
  coordinator_->LeaseOrWait(Worker("w1"), clock_.Now() + absl::Seconds(30),
                            [&](auto r) { answer = std::move(r); });
  coordinator_->CancelWaiters();
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace cohort::server

namespace cohort::server {
namespace {

// Token expiry on the coordinator's clock: good until its TTL has passed,
// then refused as expired, while a token without a TTL keeps working.
TEST_F(CoordinatorTest, TokenExpiresAfterItsTtlOnTheCoordinatorsClock) {
  ASSERT_OK_AND_ASSIGN(std::string short_lived,
                       coordinator_->CreateToken("client", "ci", absl::Hours(12)));
  ASSERT_OK_AND_ASSIGN(std::string forever,
                       coordinator_->CreateToken("worker", "w", std::nullopt));
  EXPECT_EQ(coordinator_->Identify(short_lived).value().role, "client");
  clock_.Advance(absl::Hours(12) - absl::Seconds(1));
  EXPECT_EQ(coordinator_->Identify(short_lived).value().role, "client");
  clock_.Advance(absl::Seconds(1));
  EXPECT_THAT(coordinator_->Identify(short_lived),
              ::cohort::testing::StatusIs(absl::StatusCode::kUnauthenticated,
                                          ::testing::HasSubstr("expired")));
  EXPECT_EQ(coordinator_->Identify(forever).value().role, "worker");
  EXPECT_THAT(coordinator_->Identify(""),
              ::cohort::testing::StatusIs(absl::StatusCode::kUnauthenticated,
                                          ::testing::HasSubstr("missing")));
}

}  // namespace
}  // namespace cohort::server
