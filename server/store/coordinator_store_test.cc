#include "server/store/coordinator_store.h"

#include <map>
#include <set>

#include "absl/strings/str_format.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gtest/gtest.h"
#include "server/jobgraph/matching.h"
#include "server/jobgraph/plan.h"
#include "server/store/schema.h"

namespace cohort::server {
namespace {

using ::cohort::testing::StatusIs;
using ::cohort::testing::TempDir;
using ::testing::HasSubstr;

const std::string kBase = "sha256:" + std::string(64, 'a');
const std::string kContrib = "sha256:" + std::string(64, 'b');
const absl::Duration kLease = absl::Seconds(30);

std::string Digest(char c) { return "sha256:" + std::string(64, c); }

std::vector<PlannedStep> Chain(const std::string& alpha = "1.2") {
  std::vector<NodeSpec> nodes = {
      {"dm", StepKind::kDropmap, R"({"target": 98})", {{"contrib", kContrib, "", ""}}, {}, "", 0, "1"},
      {"pr", StepKind::kPrune, "{}",
       {{"checkpoint", kBase, "", ""}, {"drop_map", "", "dm", "drop_map"}}, {}, "", 0, "1"},
      {"up", StepKind::kUpweight, "{\"alpha\": " + alpha + "}",
       {{"checkpoint", "", "pr", "checkpoint"}}, {}, "", 2, "1"}};
  return PlanCampaign(nodes).value();
}

// `n` dropmap -> prune chains, more steps than one insert batch holds.
std::vector<PlannedStep> Chains(int n, int first = 0) {
  std::vector<NodeSpec> nodes;
  for (int i = first; i < first + n; ++i) {
    std::string dm = "dm" + std::to_string(i);
    nodes.push_back({dm, StepKind::kDropmap,
                     "{\"target\": " + std::to_string(i) + "}",
                     {{"contrib", kContrib, "", ""}}, {}, "", 0, "1"});
    nodes.push_back({"pr" + std::to_string(i), StepKind::kPrune, "{}",
                     {{"checkpoint", kBase, "", ""}, {"drop_map", "", dm, "drop_map"}},
                     {}, "", 0, "1"});
  }
  return PlanCampaign(nodes).value();
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  // Every row that refers to another refers to one that exists (submits
  // write without SQLite checking that).
  void TearDown() override {
    if (store_ == nullptr) return;
    Statement& check = store_->db().Prepare("PRAGMA foreign_key_check");
    while (check.Step()) {
      ADD_FAILURE() << "table " << check.ColumnText(0) << " row " << check.ColumnInt64(1)
                    << " refers to a missing row of " << check.ColumnText(2);
    }
    EXPECT_OK(check.status());
  }
  void Reopen() {
    store_.reset();
    store_ = CoordinatorStore::Open(dir_.Join("cohort.db"), {}).value();
  }
  WorkerCapacity Worker(const std::string& id) {
    WorkerCapacity w;
    w.worker_id = id;
    w.free_slots = 1;
    w.free_disk_bytes = 1ull << 40;
    return w;
  }
  // Leases the next step for `worker` and completes it with one output.
  LeaseGrant LeaseAndComplete(const std::string& worker, const std::string& output,
                              char digest) {
    auto grant = store_->LeaseNext(Worker(worker), now_, kLease).value();
    EXPECT_TRUE(grant.has_value());
    OutputArtifact out{output, Digest(digest), 3, 100, true, {"worker:" + worker}};
    EXPECT_OK(store_->Complete({grant->lease_id, grant->epoch, ""}, {out}, now_));
    return *grant;
  }
  StepState State(const std::string& key) { return store_->GetStep(key).value().state; }
  // StepCounts (kept as states change) equals a count of every campaign's
  // distinct steps by state.
  void ExpectCountsMatchTheSteps() {
    std::map<std::string, StepState> states;
    absl::StatusOr<std::vector<CampaignRecord>> campaigns = store_->ListCampaigns(1000);
    ASSERT_OK(campaigns.status());
    for (const CampaignRecord& c : *campaigns) {
      absl::StatusOr<std::vector<StepRecord>> steps = store_->CampaignSteps(c.id);
      ASSERT_OK(steps.status());
      for (const StepRecord& step : *steps) states[step.key] = step.state;
    }
    std::map<StepState, int64_t> expected;
    for (const auto& [key, state] : states) ++expected[state];
    EXPECT_EQ(store_->StepCounts().value(), expected);
  }

  TempDir dir_;
  std::unique_ptr<CoordinatorStore> store_;
  absl::Time now_ = absl::FromUnixSeconds(1800000000);
};

TEST_F(StoreTest, ChainRunsInOrderAndResolvesInputs) {
  auto steps = Chain();
  ASSERT_OK_AND_ASSIGN(SubmitOutcome submitted,
                       store_->SubmitCampaign("sweep", "{}", 0, "", steps, now_));
  EXPECT_EQ(submitted.steps_total, 3u);
  EXPECT_EQ(submitted.steps_to_run, 3u);
  EXPECT_EQ(State(steps[0].key), StepState::kReady);
  EXPECT_EQ(State(steps[1].key), StepState::kWaiting);

  LeaseGrant dm = LeaseAndComplete("w1", "drop_map", 'd');
  EXPECT_EQ(dm.step.key, steps[0].key);
  EXPECT_EQ(dm.epoch, 1u);
  EXPECT_EQ(State(steps[1].key), StepState::kReady);

  ASSERT_OK_AND_ASSIGN(auto prune, store_->LeaseNext(Worker("w1"), now_, kLease));
  ASSERT_TRUE(prune.has_value());
  ASSERT_EQ(prune->inputs.size(), 2u);
  EXPECT_EQ(prune->inputs[0].first, "checkpoint");
  EXPECT_EQ(prune->inputs[0].second.digest, kBase);
  EXPECT_EQ(prune->inputs[1].first, "drop_map");
  EXPECT_EQ(prune->inputs[1].second.digest, Digest('d'));
  EXPECT_EQ(prune->inputs[1].second.locations,
            std::vector<std::string>{"worker:w1"});
  // What the worker measured of the outputs is kept with the step as given.
  const std::string facts = R"({"file_bytes":1,"bits_per_weight":6.5})";
  ASSERT_OK(store_->Complete({prune->lease_id, prune->epoch, ""},
                             {{"checkpoint", Digest('p'), 3, 1, true, {}}}, now_, "", "",
                             facts));
  EXPECT_EQ(store_->GetStep(steps[1].key).value().facts_json, facts);
  LeaseAndComplete("w1", "checkpoint", 'u');
  ASSERT_OK_AND_ASSIGN(CampaignRecord campaign,
                       store_->GetCampaign(submitted.campaign_id));
  EXPECT_EQ(campaign.state, CampaignState::kSucceeded);
  EXPECT_EQ(campaign.unfinished, 0);
  // Each step lists what it produced.
  ASSERT_OK_AND_ASSIGN(auto listed, store_->CampaignSteps(submitted.campaign_id));
  std::map<std::string, std::string> produced;
  for (const StepRecord& step : listed) {
    ASSERT_EQ(step.outputs.size(), 1u) << step.display_name;
    produced[step.key] = step.outputs[0].name + " " + step.outputs[0].digest;
  }
  EXPECT_EQ(produced[steps[0].key], "drop_map " + Digest('d'));
  EXPECT_EQ(produced[steps[1].key], "checkpoint " + Digest('p'));
  EXPECT_EQ(produced[steps[2].key], "checkpoint " + Digest('u'));
  EXPECT_EQ(listed[1].facts_json, facts);
  EXPECT_EQ(listed[2].facts_json, "");
  ExpectCountsMatchTheSteps();
}

// A submit writes with the connection's foreign-key checks off; every other
// write (and the next submit's reads) has them on again.
TEST_F(StoreTest, ForeignKeysAreCheckedAgainAfterASubmit) {
  ASSERT_OK(store_->SubmitCampaign("sweep", "{}", 0, "", Chain(), now_).status());
  Statement& on = store_->db().Prepare("PRAGMA foreign_keys");
  ASSERT_TRUE(on.Step());
  EXPECT_EQ(on.ColumnInt64(0), 1);
  while (on.Step()) {
  }
  EXPECT_THAT(store_->db().Execute(
                  "INSERT INTO step_edges(child_id, parent_id) VALUES(1, 999999)"),
              StatusIs(absl::StatusCode::kAlreadyExists, ::testing::_));
}

TEST_F(StoreTest, ABigCampaignIsStoredWholeWithItsReadyEvents) {
  auto steps = Chains(150);
  ASSERT_OK_AND_ASSIGN(SubmitOutcome submitted,
                       store_->SubmitCampaign("big", "{}", 0, "", steps, now_));
  EXPECT_EQ(submitted.steps_total, 300u);
  EXPECT_EQ(submitted.step_states.size(), 300u);
  ASSERT_OK_AND_ASSIGN(auto listed, store_->CampaignSteps(submitted.campaign_id));
  EXPECT_EQ(listed.size(), 300u);
  int ready = 0;
  for (const StepRecord& step : listed) {
    EXPECT_EQ(step.state, step.kind == StepKind::kDropmap ? StepState::kReady
                                                          : StepState::kWaiting);
    EXPECT_EQ(submitted.step_states.at(step.key), step.state);
    ready += step.state == StepState::kReady;
  }
  EXPECT_EQ(ready, 150);
  EXPECT_EQ(store_->GetCampaign(submitted.campaign_id)->unfinished, 300);
  ASSERT_OK_AND_ASSIGN(auto events, store_->Events(submitted.campaign_id, 0, 1000));
  int ready_events = 0;
  for (const EventRecord& e : events) {
    ready_events += e.type == EventType::kStepState && e.step_state == StepState::kReady;
  }
  EXPECT_EQ(ready_events, 150);

  // Edges and inputs are stored: a finished dropmap opens its prune, whose
  // lease resolves the drop map it produced.
  LeaseGrant dm = LeaseAndComplete("w1", "drop_map", 'd');
  ASSERT_OK_AND_ASSIGN(auto prune, store_->LeaseNext(Worker("w1"), now_, kLease));
  ASSERT_TRUE(prune.has_value());
  EXPECT_EQ(prune->step.kind, StepKind::kPrune);
  ASSERT_EQ(prune->inputs.size(), 2u);
  EXPECT_EQ(prune->inputs[1].second.digest, Digest('d'));

  // Overlapping resubmission: the shared 150 chains are linked, not copied;
  // the finished dropmap is cached and its prune keeps its lease.
  auto wider = Chains(200);
  ASSERT_OK_AND_ASSIGN(SubmitOutcome second,
                       store_->SubmitCampaign("wider", "{}", 0, "", wider, now_));
  EXPECT_EQ(second.steps_total, 400u);
  EXPECT_EQ(second.steps_cached, 1u);
  EXPECT_EQ(second.step_states.at(dm.step.key), StepState::kSucceeded);
  EXPECT_EQ(second.step_states.at(prune->step.key), StepState::kLeased);
  EXPECT_EQ(store_->GetCampaign(second.campaign_id)->unfinished, 399);
  ASSERT_OK_AND_ASSIGN(auto counts, store_->StepCounts());
  EXPECT_EQ(counts[StepState::kReady], 149 + 50);
}

// A small campaign submitted behind a big one of the same priority is not
// queued behind all of it: both progress side by side, by plan position.
TEST_F(StoreTest, CampaignsOfEqualPriorityProgressSideBySide) {
  auto big = Chains(10);
  ASSERT_OK(store_->SubmitCampaign("big", "{}", 0, "", big, now_).status());
  now_ += absl::Seconds(1);
  auto small = Chains(2, /*first=*/100);
  ASSERT_OK(store_->SubmitCampaign("small", "{}", 0, "", small, now_).status());
  std::set<std::string> small_keys;
  for (const PlannedStep& step : small) small_keys.insert(step.key);
  std::string order;
  std::vector<std::string> leased;
  for (int i = 0; i < 6; ++i) {
    ASSERT_OK_AND_ASSIGN(auto grant, store_->LeaseNext(Worker("w1"), now_, kLease));
    ASSERT_TRUE(grant.has_value());
    order += small_keys.count(grant->step.key) ? 'S' : 'B';
    leased.push_back(grant->step.key);
  }
  EXPECT_EQ(order, "BSBSBB");
  // Within a campaign, plan order: the big campaign's dropmaps 0, 1, 2, 3.
  EXPECT_EQ(leased[0], big[0].key);
  EXPECT_EQ(leased[2], big[2].key);
  EXPECT_EQ(leased[4], big[4].key);
  EXPECT_EQ(leased[5], big[6].key);
}

TEST_F(StoreTest, IdenticalResubmissionRunsZeroSteps) {
  auto steps = Chain();
  ASSERT_OK(store_->SubmitCampaign("a", "{}", 0, "", steps, now_).status());
  LeaseAndComplete("w1", "drop_map", 'd');
  LeaseAndComplete("w1", "checkpoint", 'p');
  LeaseAndComplete("w1", "checkpoint", 'u');
  ASSERT_OK_AND_ASSIGN(SubmitOutcome dry, store_->DryRun(steps));
  EXPECT_EQ(dry.steps_cached, 3u);
  ASSERT_OK_AND_ASSIGN(SubmitOutcome again,
                       store_->SubmitCampaign("b", "{}", 0, "", steps, now_));
  EXPECT_EQ(again.steps_cached, 3u);
  EXPECT_EQ(again.steps_to_run, 0u);
  ASSERT_OK_AND_ASSIGN(auto nothing, store_->LeaseNext(Worker("w1"), now_, kLease));
  EXPECT_FALSE(nothing.has_value());
  EXPECT_EQ(store_->GetCampaign(again.campaign_id)->state, CampaignState::kSucceeded);

  // A new alpha shares dropmap and prune, and runs only the upweight.
  ASSERT_OK_AND_ASSIGN(SubmitOutcome variant,
                       store_->SubmitCampaign("c", "{}", 0, "", Chain("1.05"), now_));
  EXPECT_EQ(variant.steps_cached, 2u);
  EXPECT_EQ(variant.steps_to_run, 1u);
}

TEST_F(StoreTest, RerunReArmsSucceededStepsAndNodeIdsAndLogsAreKept) {
  auto steps = Chain();
  ASSERT_OK_AND_ASSIGN(auto first, store_->SubmitCampaign("a", "{}", 0, "", steps, now_));
  auto grant = store_->LeaseNext(Worker("w1"), now_, kLease).value();
  ASSERT_OK(store_->Complete({grant->lease_id, grant->epoch, ""},
                             {{"drop_map", Digest('d'), 2, 1, true, {}}}, now_, "",
                             "dropmap: 30 layers written"));
  EXPECT_EQ(store_->GetStep(steps[0].key)->log_tail, "dropmap: 30 layers written");
  ASSERT_OK_AND_ASSIGN(auto listed, store_->CampaignSteps(first.campaign_id));
  std::set<std::string> nodes;
  for (const StepRecord& s : listed) nodes.insert(s.node_id);
  EXPECT_EQ(nodes, (std::set<std::string>{"dm", "pr", "up"}));
  ASSERT_OK_AND_ASSIGN(auto again,
                       store_->SubmitCampaign("b", "{}", 0, "", steps, now_, /*rerun=*/true));
  EXPECT_EQ(again.steps_cached, 0u);
  EXPECT_EQ(State(steps[0].key), StepState::kReady);
  ExpectCountsMatchTheSteps();
}

TEST_F(StoreTest, IdempotencyKeyReturnsSameCampaign) {
  ASSERT_OK_AND_ASSIGN(auto first,
                       store_->SubmitCampaign("a", "{}", 0, "req-1", Chain(), now_));
  ASSERT_OK_AND_ASSIGN(auto second,
                       store_->SubmitCampaign("a", "{}", 0, "req-1", Chain(), now_));
  EXPECT_TRUE(second.already_submitted);
  EXPECT_EQ(first.campaign_id, second.campaign_id);
  EXPECT_EQ(store_->ListCampaigns(10)->size(), 1u);
}

TEST_F(StoreTest, ExpiredLeaseIsReleasedAndStaleEpochFenced) {
  auto steps = Chain();
  ASSERT_OK(store_->SubmitCampaign("a", "{}", 0, "", steps, now_).status());
  ASSERT_OK_AND_ASSIGN(auto first, store_->LeaseNext(Worker("w1"), now_, kLease));
  ASSERT_TRUE(first.has_value());
  // Renewed while heartbeating...
  now_ += absl::Seconds(20);
  ASSERT_OK(store_->RegisterWorker("w1", "{}", now_).status());
  ASSERT_OK_AND_ASSIGN(auto beat, store_->Heartbeat("w1", {{first->lease_id, 1, ""}},
                                                    now_, kLease));
  EXPECT_EQ(beat.renewed.size(), 1u);
  now_ += absl::Seconds(25);
  ASSERT_OK_AND_ASSIGN(auto none, store_->ExpireLeases(now_));
  EXPECT_TRUE(none.empty());
  // ...then the worker dies: 31 s of silence expires the lease.
  now_ += absl::Seconds(31);
  ASSERT_OK_AND_ASSIGN(auto expired, store_->ExpireLeases(now_));
  EXPECT_EQ(expired, std::vector<std::string>{steps[0].key});
  ASSERT_OK_AND_ASSIGN(auto second, store_->LeaseNext(Worker("w2"), now_, kLease));
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->epoch, 2u);
  // The old holder comes back: everything it says is refused.
  LeaseRef stale{first->lease_id, first->epoch, ""};
  EXPECT_THAT(store_->Complete(stale, {}, now_),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not current")));
  EXPECT_THAT(store_->Fail(stale, 14, "x", now_).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::_));
  EXPECT_THAT(store_->InsertResults(stale, {{"p1", 0, 1, "stop", 1, 0, 1, "", "", "{}", std::nullopt}}, now_)
                  .status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::_));
  ASSERT_OK_AND_ASSIGN(auto revoked, store_->Heartbeat("w1", {{first->lease_id, 1, ""}},
                                                       now_, kLease));
  EXPECT_EQ(revoked.revoked, std::vector<std::string>{first->lease_id});
  EXPECT_OK(store_->Complete({second->lease_id, 2, ""}, {{"drop_map", Digest('d'), 2, 1, false, {}}}, now_));
  EXPECT_EQ(State(steps[0].key), StepState::kSucceeded);
}

// A worker cut off past its lease (a 20 s link cut) finds its step where it
// left it when nobody else took it: the heartbeat renews instead of
// revoking, and its completion lands. The epoch decides: a re-lease since
// fences it (ExpiredLeaseIsReleasedAndStaleEpochFenced).
TEST_F(StoreTest, ALapsedLeaseWhoseStepNobodyTookMayFinish) {
  auto steps = Chain();
  ASSERT_OK(store_->SubmitCampaign("a", "{}", 0, "", steps, now_).status());
  ASSERT_OK(store_->RegisterWorker("w1", "{}", now_).status());
  ASSERT_OK_AND_ASSIGN(auto first, store_->LeaseNext(Worker("w1"), now_, kLease));
  ASSERT_TRUE(first.has_value());
  now_ += absl::Seconds(31);
  ASSERT_OK_AND_ASSIGN(auto expired, store_->ExpireLeases(now_));
  ASSERT_EQ(expired, std::vector<std::string>{steps[0].key});
  EXPECT_EQ(State(steps[0].key), StepState::kReady);
  ASSERT_OK_AND_ASSIGN(auto beat, store_->Heartbeat("w1", {{first->lease_id, first->epoch, ""}},
                                                    now_, kLease));
  EXPECT_EQ(beat.renewed, std::vector<std::string>{first->lease_id});
  EXPECT_TRUE(beat.revoked.empty());
  EXPECT_EQ(State(steps[0].key), StepState::kLeased);
  // Lapsed again, then the completion arrives without a heartbeat first.
  now_ += absl::Seconds(31);
  ASSERT_OK(store_->ExpireLeases(now_).status());
  EXPECT_OK(store_->Complete({first->lease_id, first->epoch, ""},
                             {{"drop_map", Digest('d'), 2, 1, false, {}}}, now_));
  EXPECT_EQ(State(steps[0].key), StepState::kSucceeded);
  ASSERT_OK_AND_ASSIGN(StepRecord step, store_->GetStep(steps[0].key));
  EXPECT_EQ(step.attempts, 1u);
}

// max_attempts is the number of attempts, not of retries: with the default
// 3, a step that keeps failing for a retryable reason runs exactly 3 times.
// (A mutation that allowed one attempt more passed every test before.)
TEST_F(StoreTest, ARetryableFailureRunsExactlyMaxAttemptsTimes) {
  auto steps = Chain();
  ASSERT_OK(store_->SubmitCampaign("a", "{}", 0, "", steps, now_).status());
  int attempts = 0;
  for (;;) {
    now_ += absl::Hours(1);  // past any backoff
    ASSERT_OK_AND_ASSIGN(auto lease, store_->LeaseNext(Worker("w1"), now_, kLease));
    if (!lease.has_value()) break;
    ASSERT_EQ(lease->step.key, steps[0].key);
    ++attempts;
    ASSERT_OK_AND_ASSIGN(bool retry, store_->Fail({lease->lease_id, lease->epoch, ""}, 14,
                                                  "disk hiccup", now_));
    EXPECT_EQ(retry, attempts < 3) << "attempt " << attempts;
    ASSERT_LE(attempts, 5) << "the step never stops retrying";
  }
  EXPECT_EQ(attempts, 3);
  EXPECT_EQ(State(steps[0].key), StepState::kFailed);
  EXPECT_EQ(store_->GetStep(steps[0].key)->attempts, 3u);
}

// The same limit holds when the attempts end by lease expiry (a worker that
// dies each time): the third expiry fails the step.
TEST_F(StoreTest, ExpiredLeasesCountAsAttemptsUpToMaxAttempts) {
  auto steps = Chain();
  ASSERT_OK(store_->SubmitCampaign("a", "{}", 0, "", steps, now_).status());
  for (int attempt = 1; attempt <= 3; ++attempt) {
    ASSERT_OK_AND_ASSIGN(auto lease, store_->LeaseNext(Worker("w1"), now_, kLease));
    ASSERT_TRUE(lease.has_value()) << "attempt " << attempt;
    now_ += kLease + absl::Seconds(1);
    ASSERT_OK_AND_ASSIGN(auto expired, store_->ExpireLeases(now_));
    EXPECT_EQ(expired, std::vector<std::string>{steps[0].key});
    EXPECT_EQ(State(steps[0].key), attempt < 3 ? StepState::kReady : StepState::kFailed)
        << "attempt " << attempt;
  }
  ASSERT_OK_AND_ASSIGN(auto none, store_->LeaseNext(Worker("w1"), now_, kLease));
  EXPECT_FALSE(none.has_value());
}

// A cancelled step still carries its lease id: only the step's state tells
// that the lease is no longer current. The holder's results, completion and
// failure are all refused. (Dropping the state check passed every test
// before.) A lease that merely lapsed, with its step still READY, is taken
// back instead: ALapsedLeaseWhoseStepNobodyTookMayFinish.
TEST_F(StoreTest, ACancelledLeaseIsRefused) {
  auto steps = Chain();
  ASSERT_OK_AND_ASSIGN(auto submitted, store_->SubmitCampaign("a", "{}", 0, "", steps, now_));
  ASSERT_OK_AND_ASSIGN(auto second, store_->LeaseNext(Worker("w2"), now_, kLease));
  ASSERT_TRUE(second.has_value());
  const ResultRow row{"p1", 0, 1, "stop", 1, 0, 1, "", "", "{}", 5};
  ASSERT_OK(store_->CancelCampaign(submitted.campaign_id, now_));
  const LeaseRef cancelled{second->lease_id, second->epoch, ""};
  EXPECT_THAT(store_->InsertResults(cancelled, {row}, now_).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not current")));
  EXPECT_THAT(store_->Complete(cancelled, {{"drop_map", Digest('d'), 2, 1, false, {}}}, now_),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not current")));
  EXPECT_THAT(store_->Fail(cancelled, 14, "late", now_).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not current")));
  EXPECT_EQ(State(steps[0].key), StepState::kCancelled);
}

// Retrying a step of a cancelled campaign brings back the steps below it
// that were cancelled with it (a retried generate left its score cancelled).
TEST_F(StoreTest, RetryBringsBackTheCancelledStepsBelow) {
  auto steps = Chain();
  ASSERT_OK_AND_ASSIGN(auto submitted, store_->SubmitCampaign("a", "{}", 0, "", steps, now_));
  ASSERT_OK(store_->CancelCampaign(submitted.campaign_id, now_));
  for (const PlannedStep& s : steps) ASSERT_EQ(State(s.key), StepState::kCancelled);
  ASSERT_OK(store_->RetryStep(steps[0].key, now_));
  EXPECT_EQ(State(steps[0].key), StepState::kReady);
  EXPECT_EQ(State(steps[1].key), StepState::kWaiting);
  EXPECT_EQ(State(steps[2].key), StepState::kWaiting);
  LeaseAndComplete("w1", "drop_map", 'd');
  EXPECT_EQ(State(steps[1].key), StepState::kReady);
  ExpectCountsMatchTheSteps();
}

// A campaign's steps come back in plan order, the order the spec expands
// them in (status and reports list them so), not in key-hash order.
TEST_F(StoreTest, CampaignStepsComeInPlanOrder) {
  std::vector<PlannedStep> planned = Chains(20);
  ASSERT_OK_AND_ASSIGN(auto submitted,
                       store_->SubmitCampaign("a", "{}", 0, "", planned, now_));
  ASSERT_OK_AND_ASSIGN(std::vector<StepRecord> steps,
                       store_->CampaignSteps(submitted.campaign_id));
  ASSERT_EQ(steps.size(), planned.size());
  for (size_t i = 0; i < steps.size(); ++i) EXPECT_EQ(steps[i].key, planned[i].key) << i;
}

// Progress is the running attempt's: a heartbeat stores it while the step is
// leased, and the step's end clears it (a finished campaign showed the last
// "90/90 tensors" of its quantize forever).
TEST_F(StoreTest, ProgressIsKeptWhileLeasedAndClearedWhenTheStepEnds) {
  auto steps = Chain();
  ASSERT_OK(store_->SubmitCampaign("a", "{}", 0, "", steps, now_).status());
  ASSERT_OK(store_->RegisterWorker("w1", "{}", now_).status());
  ASSERT_OK_AND_ASSIGN(auto grant, store_->LeaseNext(Worker("w1"), now_, kLease));
  ASSERT_TRUE(grant.has_value());
  const std::string progress = R"({"done":3,"total":18,"unit":"tensors"})";
  ASSERT_OK(store_->Heartbeat("w1", {{grant->lease_id, grant->epoch, progress}}, now_, kLease)
                .status());
  EXPECT_EQ(store_->GetStep(steps[0].key).value().progress_json, progress);
  ASSERT_OK(store_->Complete({grant->lease_id, grant->epoch, ""},
                             {{"drop_map", Digest('d'), 2, 1, false, {}}}, now_));
  EXPECT_EQ(store_->GetStep(steps[0].key).value().progress_json, "");
}

// A heartbeat's progress reaches the watch feed as a STEP_PROGRESS event for
// the step's campaign, at most once per kProgressEventEvery per lease.
TEST_F(StoreTest, ProgressBecomesAWatchEventAtMostEveryTenSeconds) {
  auto steps = Chain();
  ASSERT_OK_AND_ASSIGN(SubmitOutcome submitted,
                       store_->SubmitCampaign("a", "{}", 0, "", steps, now_));
  ASSERT_OK(store_->RegisterWorker("w1", "{}", now_).status());
  ASSERT_OK_AND_ASSIGN(auto grant, store_->LeaseNext(Worker("w1"), now_, kLease));
  ASSERT_TRUE(grant.has_value());
  auto progress_events = [&] {
    std::vector<EventRecord> out;
    absl::StatusOr<std::vector<EventRecord>> all = store_->Events(submitted.campaign_id, 0, 1000);
    EXPECT_TRUE(all.ok()) << all.status();
    if (!all.ok()) return out;
    for (const EventRecord& e : *all) {
      if (e.type == EventType::kStepProgress) out.push_back(e);
    }
    return out;
  };
  const std::string p1 = R"({"done":1,"total":20,"unit":"problems","message":"2 in flight"})";
  const std::string p2 = R"({"done":9,"total":20,"unit":"problems","message":"2 in flight"})";
  ASSERT_OK(store_->Heartbeat("w1", {{grant->lease_id, grant->epoch, p1}}, now_, kLease).status());
  ASSERT_OK(store_->Heartbeat("w1", {{grant->lease_id, grant->epoch, p2}},
                              now_ + absl::Seconds(5), kLease).status());
  std::vector<EventRecord> events = progress_events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].step_key, steps[0].key);
  EXPECT_EQ(events[0].worker_id, "w1");
  EXPECT_EQ(events[0].message, p1);
  ASSERT_OK(store_->Heartbeat("w1", {{grant->lease_id, grant->epoch, p2}},
                              now_ + absl::Seconds(10), kLease).status());
  // A heartbeat without progress logs nothing.
  ASSERT_OK(store_->Heartbeat("w1", {{grant->lease_id, grant->epoch, ""}},
                              now_ + absl::Seconds(25), kLease).status());
  events = progress_events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].message, p2);
}

// An input nobody can serve right now (its only holder restarting) is not
// the step's failure: the attempt comes back, the step waits a growing
// backoff, and only after kMaxInputWaits hand-backs do attempts count.
TEST_F(StoreTest, UnavailableInputGivesTheAttemptBackWithBackoff) {
  auto steps = Chain();
  ASSERT_OK(store_->SubmitCampaign("a", "{}", 0, "", steps, now_).status());
  // w1 holds the drop map and stays alive (it heartbeats), only unreachable.
  ASSERT_OK(store_->RegisterWorker("w1", "{}", now_, "").status());
  const absl::Duration alive = absl::InfiniteDuration();
  LeaseAndComplete("w1", "drop_map", 'd');
  for (int wait = 1; wait <= kMaxInputWaits; ++wait) {
    ASSERT_OK_AND_ASSIGN(auto lease, store_->LeaseNext(Worker("w2"), now_, kLease));
    ASSERT_TRUE(lease.has_value()) << "wait " << wait;
    EXPECT_EQ(lease->step.key, steps[1].key);
    EXPECT_EQ(lease->step.attempts, 1u) << "wait " << wait;
    ASSERT_OK_AND_ASSIGN(bool retry,
                         store_->Fail({lease->lease_id, lease->epoch, ""}, 14,
                                      "drop_map: w1 unreachable", now_, "",
                                      /*input_unavailable=*/true, alive));
    EXPECT_TRUE(retry);
    EXPECT_EQ(State(steps[1].key), StepState::kReady);
    EXPECT_EQ(store_->GetStep(steps[1].key)->attempts, 0u);
    ASSERT_OK_AND_ASSIGN(auto too_soon, store_->LeaseNext(Worker("w2"), now_, kLease));
    EXPECT_FALSE(too_soon.has_value()) << "no backoff after wait " << wait;
    now_ += InputWaitBackoff(wait);
  }
  // Out of waits: now it is an ordinary retryable failure and spends attempts.
  ASSERT_OK_AND_ASSIGN(auto lease, store_->LeaseNext(Worker("w2"), now_, kLease));
  ASSERT_TRUE(lease.has_value());
  ASSERT_OK(store_->Fail({lease->lease_id, lease->epoch, ""}, 14, "still unreachable",
                         now_, "", true, alive)
                .status());
  EXPECT_EQ(store_->GetStep(steps[1].key)->attempts, 1u);
}

// The only holder of an input has gone (a cancelled Slurm task: no heartbeat
// for the live window): the consumer waits again and the producer runs
// again, on a live worker, instead of the consumer failing after its input
// waits. Its dead location is dropped.
TEST_F(StoreTest, AnInputLostWithItsWorkerRunsItsProducerAgain) {
  auto steps = Chain();
  ASSERT_OK(store_->SubmitCampaign("a", "{}", 0, "", steps, now_).status());
  ASSERT_OK(store_->RegisterWorker("w1", "{}", now_, "").status());
  LeaseAndComplete("w1", "drop_map", 'd');
  now_ += absl::Minutes(2);  // w1 silent since
  ASSERT_OK(store_->RegisterWorker("w2", "{}", now_, "").status());
  ASSERT_OK_AND_ASSIGN(auto lease, store_->LeaseNext(Worker("w2"), now_, kLease));
  ASSERT_TRUE(lease.has_value());
  ASSERT_EQ(lease->step.key, steps[1].key);
  ASSERT_OK_AND_ASSIGN(bool retry,
                       store_->Fail({lease->lease_id, lease->epoch, ""}, 14,
                                    "drop_map: w1 unreachable", now_, "",
                                    /*input_unavailable=*/true, absl::Seconds(30)));
  EXPECT_TRUE(retry);
  EXPECT_EQ(State(steps[1].key), StepState::kWaiting);
  EXPECT_EQ(store_->GetStep(steps[1].key)->attempts, 0u);
  EXPECT_EQ(State(steps[0].key), StepState::kReady);
  // The producer runs again on w2; its output lands there and the consumer
  // is ready, with the lost copy gone from the locations.
  LeaseGrant again = LeaseAndComplete("w2", "drop_map", 'd');
  EXPECT_EQ(again.step.key, steps[0].key);
  EXPECT_EQ(State(steps[1].key), StepState::kReady);
  ASSERT_OK_AND_ASSIGN(auto consumer, store_->LeaseNext(Worker("w2"), now_, kLease));
  ASSERT_TRUE(consumer.has_value());
  bool saw_drop_map = false;
  for (const auto& [name, artifact] : consumer->inputs) {
    if (artifact.name != "drop_map" && name != "drop_map") continue;
    saw_drop_map = true;
    EXPECT_EQ(artifact.locations, std::vector<std::string>{"worker:w2"});
  }
  EXPECT_TRUE(saw_drop_map);
  ExpectCountsMatchTheSteps();
}

TEST_F(StoreTest, RetryableFailureBacksOffThenFailsAndBlocks) {
  auto steps = Chain();
  ASSERT_OK_AND_ASSIGN(auto submitted,
                       store_->SubmitCampaign("a", "{}", 0, "", steps, now_));
  ASSERT_OK_AND_ASSIGN(auto lease, store_->LeaseNext(Worker("w1"), now_, kLease));
  ASSERT_OK_AND_ASSIGN(bool retry,
                       store_->Fail({lease->lease_id, 1, ""}, 14, "disk hiccup", now_));
  EXPECT_TRUE(retry);
  EXPECT_EQ(State(steps[0].key), StepState::kReady);
  ASSERT_OK_AND_ASSIGN(auto too_soon, store_->LeaseNext(Worker("w1"), now_, kLease));
  EXPECT_FALSE(too_soon.has_value());  // backoff
  now_ += absl::Seconds(6);
  ASSERT_OK_AND_ASSIGN(auto again, store_->LeaseNext(Worker("w1"), now_, kLease));
  ASSERT_TRUE(again.has_value());
  // A bad input is not retried: the step fails and its dependents block.
  ASSERT_OK_AND_ASSIGN(retry, store_->Fail({again->lease_id, again->epoch, ""}, 3,
                                           "contrib.json: layer 3 has 7 cells", now_));
  EXPECT_FALSE(retry);
  EXPECT_EQ(State(steps[0].key), StepState::kFailed);
  EXPECT_EQ(State(steps[1].key), StepState::kBlocked);
  EXPECT_EQ(State(steps[2].key), StepState::kBlocked);
  EXPECT_EQ(store_->GetCampaign(submitted.campaign_id)->state, CampaignState::kFailed);
  EXPECT_THAT(store_->GetStep(steps[0].key)->last_error, HasSubstr("7 cells"));

  ASSERT_OK(store_->ResumeCampaign(submitted.campaign_id, now_));
  EXPECT_EQ(State(steps[0].key), StepState::kReady);
  EXPECT_EQ(State(steps[1].key), StepState::kWaiting);
  EXPECT_EQ(store_->GetStep(steps[0].key)->attempts, 0u);
  EXPECT_EQ(store_->GetCampaign(submitted.campaign_id)->state, CampaignState::kRunning);
  ExpectCountsMatchTheSteps();
}

TEST_F(StoreTest, AttemptLimitOnExpiry) {
  auto steps = Chain();
  ASSERT_OK(store_->SubmitCampaign("a", "{}", 0, "", steps, now_).status());
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK_AND_ASSIGN(auto lease, store_->LeaseNext(Worker("w1"), now_, kLease));
    ASSERT_TRUE(lease.has_value()) << i;
    now_ += absl::Seconds(31);
    ASSERT_OK(store_->ExpireLeases(now_).status());
  }
  EXPECT_EQ(State(steps[0].key), StepState::kFailed);
  EXPECT_THAT(store_->GetStep(steps[0].key)->last_error, HasSubstr("expired"));
}

TEST_F(StoreTest, ResultsAreWrittenOnce) {
  auto steps = Chain();
  ASSERT_OK(store_->SubmitCampaign("a", "{}", 0, "", steps, now_).status());
  ASSERT_OK_AND_ASSIGN(auto lease, store_->LeaseNext(Worker("w1"), now_, kLease));
  LeaseRef ref{lease->lease_id, lease->epoch, ""};
  std::vector<ResultRow> rows = {{"gsm8k/1", 0, 1, "stop", 120, 800, 400, "42", "s1", "{}", std::nullopt},
                                 {"gsm8k/2", 0, 2, "length", 12288, 0, 9000, "", "s1", "{}", 3000}};
  ASSERT_OK_AND_ASSIGN(auto first, store_->InsertResults(ref, rows, now_));
  EXPECT_EQ(first.inserted, 2u);
  rows.push_back({"gsm8k/3", 0, 1, "stop", 1, 1, 1, "7", "s1", "{}", std::nullopt});
  ASSERT_OK_AND_ASSIGN(auto second, store_->InsertResults(ref, rows, now_));
  EXPECT_EQ(second.inserted, 1u);
  EXPECT_EQ(second.duplicates, 2u);
  ASSERT_OK_AND_ASSIGN(auto stored, store_->Results(steps[0].key));
  ASSERT_EQ(stored.size(), 3u);
  EXPECT_EQ(stored[1].row.finish_reason, "length");
  EXPECT_EQ(store_->CountResults().value(), 3);
  // The dashboard's column-only read: reasoning characters from their
  // column, the body only where the row has none (stored before schema 10).
  ASSERT_OK_AND_ASSIGN(std::vector<ResultRow> lengths, store_->ResultLengths(steps[0].key));
  ASSERT_EQ(lengths.size(), 3u);
  EXPECT_EQ(lengths[1].completion_tokens, 12288u);
  EXPECT_EQ(lengths[1].reasoning_chars, std::optional<uint64_t>(3000));
  EXPECT_EQ(lengths[1].body, "");
  EXPECT_EQ(lengths[0].reasoning_chars, std::nullopt);
  EXPECT_EQ(lengths[0].body, "{}");
  EXPECT_EQ(lengths[2].body, "{}");
}

// The length rows of one suite's steps share a cluster of result_lengths
// (schema 14): the suite its campaign labelled the step with, fixed at the
// step's first results, so a suite's table reads adjacent pages.
TEST_F(StoreTest, ASuitesLengthRowsShareACluster) {
  std::vector<PlannedStep> steps = Chains(3);
  std::vector<std::string> dropmaps;
  const char* suites[] = {"gsm8k-20", "math-5", "gsm8k-20"};
  for (PlannedStep& step : steps) {
    if (step.kind != StepKind::kDropmap) continue;
    step.suite = suites[dropmaps.size()];
    dropmaps.push_back(step.key);
  }
  ASSERT_EQ(dropmaps.size(), 3u);
  ASSERT_OK(store_->SubmitCampaign("a", "{}", 0, "", steps, now_).status());
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK_AND_ASSIGN(auto lease, store_->LeaseNext(Worker("w1"), now_, kLease));
    ASSERT_TRUE(lease.has_value());
    LeaseRef ref{lease->lease_id, lease->epoch, ""};
    const uint64_t tokens = 100 * (i + 1);
    ASSERT_OK(store_->InsertResults(ref, {{"p1", 0, 1, "stop", tokens, 0, 10, "", "s", "{}", 5},
                                          {"p2", 0, 2, "length", tokens + 1, 0, 11, "", "s", "{}", 6}},
                                    now_)
                  .status());
    ASSERT_OK(store_->InsertResults(ref, {{"p3", 0, 1, "stop", tokens + 2, 0, 12, "", "s", "{}", 7}},
                                    now_)
                  .status());
  }
  Reopen();
  std::map<std::string, std::string> suite_of_cluster;
  for (size_t i = 0; i < dropmaps.size(); ++i) {
    ASSERT_OK_AND_ASSIGN(std::vector<ResultRow> rows, store_->ResultLengths(dropmaps[i]));
    ASSERT_EQ(rows.size(), 3u) << dropmaps[i];
    EXPECT_EQ(rows[2].problem_id, "p3");
    EXPECT_EQ(rows[1].finish_reason, "length");
    EXPECT_EQ(rows[1].reasoning_chars, std::optional<uint64_t>(6));
    Statement& cluster = store_->db().Prepare(
        "SELECT ls.suite, count(*) FROM steps s JOIN length_clusters c ON c.step_id = s.id "
        "JOIN length_suites ls ON ls.id = c.cluster "
        "JOIN result_lengths r ON r.cluster = c.cluster AND r.step_id = s.id WHERE s.key = ?");
    cluster.Bind(1, dropmaps[i]);
    ASSERT_TRUE(cluster.Step());
    EXPECT_EQ(cluster.ColumnText(0), suites[i]);
    EXPECT_EQ(cluster.ColumnInt64(1), 3);
    while (cluster.Step()) {
    }
  }
  Statement& clusters = store_->db().Prepare("SELECT count(DISTINCT cluster) FROM result_lengths");
  ASSERT_TRUE(clusters.Step());
  EXPECT_EQ(clusters.ColumnInt64(0), 2);  // gsm8k-20 twice, math-5 once
  while (clusters.Step()) {
  }
}

TEST_F(StoreTest, StateSurvivesReopenAndLeasesGetGrace) {
  auto steps = Chain();
  ASSERT_OK_AND_ASSIGN(auto submitted,
                       store_->SubmitCampaign("a", "{}", 0, "", steps, now_));
  ASSERT_OK_AND_ASSIGN(auto lease, store_->LeaseNext(Worker("w1"), now_, kLease));
  Reopen();  // as after kill -9 of cohortd
  EXPECT_EQ(State(steps[0].key), StepState::kLeased);
  now_ += absl::Seconds(29);
  ASSERT_OK(store_->ExtendLeasesAfterRestart(now_, absl::Seconds(30)));
  now_ += absl::Seconds(20);
  ASSERT_OK_AND_ASSIGN(auto expired, store_->ExpireLeases(now_));
  EXPECT_TRUE(expired.empty());
  // The worker reattaches and finds its lease.
  ASSERT_OK_AND_ASSIGN(auto held, store_->RegisterWorker("w1", "{}", now_));
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0].lease_id, lease->lease_id);
  EXPECT_OK(store_->Complete({lease->lease_id, lease->epoch, ""},
                             {{"drop_map", Digest('d'), 2, 1, false, {}}}, now_));
  EXPECT_EQ(store_->GetStep(steps[0].key)->attempts, 1u);
}

TEST_F(StoreTest, RequirementsAndLocalityDecideWhoGetsWhat) {
  std::vector<NodeSpec> nodes = {
      {"gen", StepKind::kGenerate, "{}", {{"gguf", kBase, "", ""}},
       {1, 40ull << 30, 0, 0, {}, {"llama-server"}}, "", 0, "1"},
      {"dm", StepKind::kDropmap, "{}", {{"contrib", kContrib, "", ""}}, {}, "", 0, "1"}};
  ASSERT_OK_AND_ASSIGN(auto steps, PlanCampaign(nodes));
  ASSERT_OK(store_->SubmitCampaign("a", "{}", 0, "", steps, now_).status());
  WorkerCapacity cpu = Worker("cpu");
  ASSERT_OK_AND_ASSIGN(auto got, store_->LeaseNext(cpu, now_, kLease));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->step.kind, StepKind::kDropmap);
  ASSERT_OK_AND_ASSIGN(auto nothing, store_->LeaseNext(cpu, now_, kLease));
  EXPECT_FALSE(nothing.has_value());
  WorkerCapacity gpu = Worker("gpu");
  gpu.free_gpus = 1;
  gpu.gpu_memory_bytes = 80ull << 30;
  gpu.tools = {"llama-server"};
  ASSERT_OK_AND_ASSIGN(auto bench, store_->LeaseNext(gpu, now_, kLease));
  ASSERT_TRUE(bench.has_value());
  EXPECT_EQ(bench->step.kind, StepKind::kGenerate);
}

TEST_F(StoreTest, CancelStopsUnsharedStepsAndRevokesLeases) {
  auto steps = Chain();
  ASSERT_OK_AND_ASSIGN(auto submitted,
                       store_->SubmitCampaign("a", "{}", 0, "", steps, now_));
  ASSERT_OK(store_->RegisterWorker("w1", "{}", now_).status());
  ASSERT_OK_AND_ASSIGN(auto lease, store_->LeaseNext(Worker("w1"), now_, kLease));
  ASSERT_OK(store_->CancelCampaign(submitted.campaign_id, now_));
  EXPECT_EQ(State(steps[0].key), StepState::kCancelled);
  EXPECT_EQ(State(steps[2].key), StepState::kCancelled);
  ASSERT_OK_AND_ASSIGN(auto beat, store_->Heartbeat("w1", {{lease->lease_id, 1, ""}},
                                                    now_, kLease));
  EXPECT_EQ(beat.revoked.size(), 1u);
  EXPECT_EQ(store_->GetCampaign(submitted.campaign_id)->state,
            CampaignState::kCancelled);
  ExpectCountsMatchTheSteps();
}

TEST_F(StoreTest, FailedGateSkipsEverythingBelowIt) {
  // probe -> gate -> full bench -> score; the probe alone is not skipped.
  std::vector<NodeSpec> nodes = {
      {"probe", StepKind::kScore, "{}", {{"c", kContrib, "", ""}}, {}, "", 0, "1"},
      {"gate", StepKind::kGate, R"({"metric": "saturated_and_failed", "op": "<=", "value": 0.1})",
       {{"scores", "", "probe", "scores"}}, {}, "", 0, "1"},
      {"full", StepKind::kGenerate, "{}", {{"x", "", "gate", "decision"}}, {}, "", 0, "1"},
      {"score", StepKind::kScore, "{}", {{"c", "", "full", "completions"}}, {}, "", 0, "1"}};
  ASSERT_OK_AND_ASSIGN(auto steps, PlanCampaign(nodes));
  ASSERT_OK_AND_ASSIGN(auto submitted,
                       store_->SubmitCampaign("g", "{}", 0, "", steps, now_));
  LeaseAndComplete("w1", "scores", 's');
  ASSERT_OK_AND_ASSIGN(auto gate, store_->LeaseNext(Worker("w1"), now_, kLease));
  ASSERT_TRUE(gate.has_value());
  ASSERT_OK(store_->Complete({gate->lease_id, gate->epoch, ""},
                             {{"decision", Digest('g'), 2, 1, true, {}}}, now_,
                             "saturated_and_failed 0.31 > 0.1"));
  EXPECT_EQ(State(steps[2].key), StepState::kSkipped);
  EXPECT_EQ(State(steps[3].key), StepState::kSkipped);
  ASSERT_OK_AND_ASSIGN(auto campaign, store_->GetCampaign(submitted.campaign_id));
  EXPECT_EQ(campaign.state, CampaignState::kSucceeded);
  ASSERT_OK_AND_ASSIGN(auto events, store_->Events(submitted.campaign_id, 0, 1000));
  bool reason_seen = false;
  for (const auto& e : events) {
    if (e.step_state == StepState::kSkipped &&
        e.message.find("0.31 > 0.1") != std::string::npos) {
      reason_seen = true;
    }
  }
  EXPECT_TRUE(reason_seen);
  ExpectCountsMatchTheSteps();
}

TEST_F(StoreTest, EventsCarryEveryTransitionInOrder) {
  auto steps = Chain();
  ASSERT_OK_AND_ASSIGN(auto submitted,
                       store_->SubmitCampaign("a", "{}", 0, "", steps, now_));
  LeaseAndComplete("w1", "drop_map", 'd');
  ASSERT_OK_AND_ASSIGN(auto events, store_->Events(submitted.campaign_id, 0, 1000));
  std::vector<std::pair<std::string, StepState>> transitions;
  uint64_t last = 0;
  for (const EventRecord& e : events) {
    EXPECT_GT(e.cursor, last);
    last = e.cursor;
    if (e.type == EventType::kStepState) transitions.emplace_back(e.step_key, e.step_state);
  }
  std::vector<std::pair<std::string, StepState>> expected = {
      {steps[0].key, StepState::kReady},
      {steps[0].key, StepState::kLeased},
      {steps[0].key, StepState::kSucceeded},
      {steps[1].key, StepState::kReady}};
  EXPECT_EQ(transitions, expected);
  // Resuming from a cursor gives exactly the later events.
  ASSERT_OK_AND_ASSIGN(auto tail, store_->Events(submitted.campaign_id, events[1].cursor, 1000));
  EXPECT_EQ(tail.size(), events.size() - 2);
  EXPECT_EQ(store_->LastCursor().value(), last);
}

// A file written by the schema before step ids (version 5: steps and every
// table pointing at one keyed by the step's text key, plus an edges table)
// keeps its whole graph through the migration and runs on.
// A version-13 file's results (lengths read through an index keyed by step
// key) move to their suites' clusters of result_lengths, and read the same.
TEST(StoreMigrationTest, Version13ResultsMoveToTheirSuitesClusters) {
  TempDir dir;
  const std::string path = dir.Join("v13.db");
  const std::string gsm = "score/" + std::string(64, 'a');
  const std::string math = "score/" + std::string(64, 'b');
  {
    ASSERT_OK_AND_ASSIGN(auto db, Database::Open(path, {}));
    ASSERT_OK(MigrateTo(*db, 13));
    std::string sql =
        "INSERT INTO campaigns(id, name, state, spec_json, unfinished, created_us) "
        "VALUES('c-old', 'old', 2, '{}', 0, 1);";
    const char* kStep =
        "INSERT INTO steps(id, key, key_hash, kind, params_json, impl_version, state, "
        "max_attempts, requirements_json, display_name, created_us) "
        "VALUES(%d, '%s', %d, 8, '{}', '1', %d, 3, '{}', 'score', 1);"
        "INSERT INTO campaign_steps(campaign_id, step_id, node_id, model, suite) "
        "VALUES('c-old', %d, 'n%d', 'v0', '%s');";
    const int done = static_cast<int>(StepState::kSucceeded);
    sql += absl::StrFormat(kStep, 1, gsm, StepKeyHash(gsm), done, 1, 1, "gsm8k-20");
    sql += absl::StrFormat(kStep, 2, math, StepKeyHash(math), done, 2, 2, "math-5");
    const char* kRow =
        "INSERT INTO results(step_key, problem_id, sample_index, lease_epoch, verdict, "
        "finish_reason, completion_tokens, reasoning_tokens, completion_chars, "
        "extracted_answer, scorer_version, body, created_us, reasoning_chars) "
        "VALUES('%s', '%s', 0, 1, %d, 'stop', %d, 0, 9, '', 's', '{}', 1, %s);";
    sql += absl::StrFormat(kRow, gsm, "p1", 1, 120, "40");
    sql += absl::StrFormat(kRow, gsm, "p2", 2, 130, "NULL");  // stored before schema 10
    sql += absl::StrFormat(kRow, math, "p1", 1, 140, "50");
    sql += "INSERT INTO result_tallies SELECT step_key, verdict, count(*) FROM results "
           "GROUP BY step_key, verdict;";
    ASSERT_OK(db->Execute(sql));
  }
  ASSERT_OK_AND_ASSIGN(auto store, CoordinatorStore::Open(path, {}));
  ASSERT_OK_AND_ASSIGN(std::vector<ResultRow> rows, store->ResultLengths(gsm));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].completion_tokens, 120u);
  EXPECT_EQ(rows[0].reasoning_chars, std::optional<uint64_t>(40));
  EXPECT_EQ(rows[1].verdict, 2);
  EXPECT_EQ(rows[1].body, "{}");  // no reasoning_chars column value: the body has it
  ASSERT_OK_AND_ASSIGN(std::vector<ResultRow> math_rows, store->ResultLengths(math));
  ASSERT_EQ(math_rows.size(), 1u);
  EXPECT_EQ(math_rows[0].completion_tokens, 140u);
  Statement& clusters = store->db().Prepare(
      "SELECT ls.suite FROM length_clusters c JOIN length_suites ls ON ls.id = c.cluster "
      "ORDER BY c.step_id");
  std::vector<std::string> suites;
  while (clusters.Step()) suites.push_back(clusters.ColumnText(0));
  EXPECT_EQ(suites, (std::vector<std::string>{"gsm8k-20", "math-5"}));
  Statement& index = store->db().Prepare(
      "SELECT count(*) FROM sqlite_master WHERE name = 'results_lengths'");
  ASSERT_TRUE(index.Step());
  EXPECT_EQ(index.ColumnInt64(0), 0);  // replaced, not kept up to date beside it
  while (index.Step()) {
  }
}

TEST(StoreMigrationTest, AVersion5GraphMigratesAndRunsOn) {
  TempDir dir;
  const std::string path = dir.Join("old.db");
  std::vector<PlannedStep> steps = Chain();
  const std::string &dm = steps[0].key, &pr = steps[1].key, &up = steps[2].key;
  {
    ASSERT_OK_AND_ASSIGN(auto db, Database::Open(path, {}));
    ASSERT_OK(MigrateTo(*db, 5));
    std::string sql =
        "INSERT INTO campaigns(id, name, state, spec_json, unfinished, created_us) "
        "VALUES('c-old', 'old', 1, '{}', 2, 1);";
    const char* kStep =
        "INSERT INTO steps(key, kind, params_json, impl_version, state, "
        "max_attempts, requirements_json, display_name, created_us, ordinal) "
        "VALUES('%s', %d, '{}', '1', %d, 3, '{}', '%s', %d, %d);";
    sql += absl::StrFormat(kStep, dm, 1, static_cast<int>(StepState::kSucceeded), "dm", 1, 0);
    sql += absl::StrFormat(kStep, pr, 2, static_cast<int>(StepState::kReady), "pr", 2, 1);
    sql += absl::StrFormat(kStep, up, 3, static_cast<int>(StepState::kWaiting), "up", 3, 2);
    sql += absl::StrFormat(
        "INSERT INTO step_inputs VALUES('%s', 'contrib', '%s', NULL, NULL);"
        "INSERT INTO step_inputs VALUES('%s', 'checkpoint', '%s', NULL, NULL);"
        "INSERT INTO step_inputs VALUES('%s', 'drop_map', NULL, '%s', 'drop_map');"
        "INSERT INTO step_inputs VALUES('%s', 'checkpoint', NULL, '%s', 'checkpoint');"
        "INSERT INTO edges VALUES('%s', '%s'); INSERT INTO edges VALUES('%s', '%s');",
        dm, kContrib, pr, kBase, pr, dm, up, pr, dm, pr, pr, up);
    sql += absl::StrFormat(
        "INSERT INTO campaign_steps VALUES('c-old', '%s', 'dm');"
        "INSERT INTO campaign_steps VALUES('c-old', '%s', 'pr');"
        "INSERT INTO campaign_steps VALUES('c-old', '%s', 'up');"
        "INSERT INTO artifacts VALUES('%s', 3, 100, 1, '%s', 1);"
        "INSERT INTO artifact_locations VALUES('%s', 'worker:w1');"
        "INSERT INTO step_outputs VALUES('%s', 'drop_map', '%s');",
        dm, pr, up, Digest('d'), dm, Digest('d'), dm, Digest('d'));
    ASSERT_OK(db->Execute(sql));
  }
  ASSERT_OK_AND_ASSIGN(auto store, CoordinatorStore::Open(path, {}));
  ASSERT_OK_AND_ASSIGN(std::vector<StepRecord> campaign, store->CampaignSteps("c-old"));
  ASSERT_EQ(campaign.size(), 3u);
  EXPECT_EQ(campaign[0].key, dm);
  ASSERT_EQ(campaign[0].outputs.size(), 1u);
  EXPECT_EQ(campaign[0].outputs[0].digest, Digest('d'));
  ASSERT_OK_AND_ASSIGN(StepRecord prune, store->GetStep(pr));
  ASSERT_EQ(prune.inputs.size(), 2u);
  EXPECT_EQ(prune.inputs[1].source_step_key, dm);
  EXPECT_EQ(campaign[2].node_id, "up");
  std::map<StepState, int64_t> counts = {{StepState::kWaiting, 1},
                                         {StepState::kReady, 1},
                                         {StepState::kSucceeded, 1}};
  EXPECT_EQ(store->StepCounts().value(), counts);

  absl::Time now = absl::FromUnixSeconds(1800000000);
  WorkerCapacity worker;
  worker.worker_id = "w1";
  worker.free_slots = 1;
  worker.free_disk_bytes = 1ull << 40;
  ASSERT_OK_AND_ASSIGN(auto grant, store->LeaseNext(worker, now, kLease));
  ASSERT_TRUE(grant.has_value());
  EXPECT_EQ(grant->step.key, pr);
  ASSERT_EQ(grant->inputs.size(), 2u);
  EXPECT_EQ(grant->inputs[1].second.digest, Digest('d'));
  ASSERT_OK(store->Complete({grant->lease_id, grant->epoch, ""},
                            {{"checkpoint", Digest('p'), 3, 1, true, {}}}, now));
  EXPECT_EQ(store->GetStep(up).value().state, StepState::kReady);
  // Resubmitting the same graph finds every step by its key.
  ASSERT_OK_AND_ASSIGN(SubmitOutcome again,
                       store->SubmitCampaign("again", "{}", 0, "", steps, now));
  EXPECT_EQ(again.steps_total, 3u);
  EXPECT_EQ(again.steps_cached, 2u);
}

}  // namespace
}  // namespace cohort::server
