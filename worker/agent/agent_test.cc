// The agent's loops against a fake cohortd (tests/fakes/fake_gateway.h) and a
// fake executor, in one process: a step's life from lease to completion,
// revocation, drain, a peer that is gone, a restart that ships what the
// last run spooled, and an earlier attempt that must end first.
#include "worker/agent/agent.h"

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/sha256.h"
#include "common/utf8.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/fakes/fake_gateway.h"

namespace cohort::worker {
namespace {

using ::cohort::testing::FakeGateway;
using ::cohort::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

// Runs a step as a tool-driving executor does, as its lease's params say
// ({"name": "a", "rows": 2, "block": true, "sleep_ms": 300, "fail": "why"}):
// reports progress and per-problem rows, writes a checkpoint folder, and
// stops when asked (kCancelled). Records when each step starts and ends.
class FakeExecutor : public StepExecutor {
 public:
  absl::StatusOr<StepResult> Execute(const StepTask& task) override {
    nlohmann::json params = nlohmann::json::parse(task.params_json);
    const std::string name = params.value("name", "?");
    Record("start " + name);
    absl::StatusOr<StepResult> result = Run(task, params);
    Record("end " + name);
    return result;
  }

  std::vector<std::string> events() const {
    absl::MutexLock lock(&mu_);
    return events_;
  }
  bool WaitFor(const std::string& event, absl::Duration timeout = absl::Seconds(10)) const {
    absl::MutexLock lock(&mu_);
    auto seen = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return std::find(events_.begin(), events_.end(), event) != events_.end();
    };
    return mu_.AwaitWithTimeout(absl::Condition(&seen), timeout);
  }

 private:
  absl::StatusOr<StepResult> Run(const StepTask& task, const nlohmann::json& params) {
    const int rows = params.value("rows", 0);
    for (int i = 0; i < rows; ++i) {
      eval::ProblemResult row;
      row.id = absl::StrCat("p", i);
      row.passed = true;
      row.completion = "42";
      task.on_result(row);
    }
    absl::Time until = absl::Now() + absl::Milliseconds(params.value("sleep_ms", 0));
    while (params.value("block", false) || absl::Now() < until) {
      if (task.should_stop()) return absl::CancelledError("stopped");
      task.on_progress({1, 3, 0, "problems", "generating"});
      absl::SleepFor(absl::Milliseconds(5));
    }
    if (params.value("stray_bytes_in_log", false)) {
      // What a tool may print: bytes that are not UTF-8, and a character the
      // tail's cut could split.
      std::ofstream(task.log_path, std::ios::app) << "\xa9\xff tool said \xe2\x82\xac\n";
    }
    if (params.contains("fail")) return absl::InternalError(params["fail"].get<std::string>());
    fs::path out = fs::path(task.output_root) / "checkpoint";
    fs::create_directories(out);
    std::ofstream(out / "model.safetensors") << params.value("name", "?");
    StepResult result;
    result.outputs.push_back({"checkpoint", out.string()});
    result.facts_json = params.value("facts", "");
    return result;
  }
  void Record(const std::string& event) {
    absl::MutexLock lock(&mu_);
    events_.push_back(event);
  }

  mutable absl::Mutex mu_;
  std::vector<std::string> events_ ABSL_GUARDED_BY(mu_);
};

v1::Lease MakeLease(const std::string& lease_id, const nlohmann::json& params,
                    const std::string& step = "", uint64_t epoch = 1) {
  v1::Lease lease;
  lease.set_lease_id(lease_id);
  lease.set_epoch(epoch);
  lease.mutable_step()->set_key("sha256:" + Sha256Hex(step.empty() ? lease_id : step));
  lease.mutable_step()->set_kind(v1::STEP_KIND_PRUNE);
  lease.mutable_step()->set_display_name(lease_id);
  lease.mutable_step()->set_params_json(params.dump());
  return lease;
}

class AgentTest : public ::testing::Test {
 protected:
  AgentOptions Options(uint32_t slots = 2) {
    AgentOptions options;
    options.state_dir = dir_.Join("worker");
    options.worker_id = "w-test";
    options.slots = slots;
    options.poll_wait = absl::Milliseconds(200);
    return options;
  }
  // The agent, started against gateway_ (which it does not own here).
  std::unique_ptr<Agent> StartAgent(AgentOptions options) {
    auto agent = std::make_unique<Agent>(std::move(options), executor_,
                                         std::make_unique<Forward>(gateway_));
    EXPECT_OK(agent->Start());
    return agent;
  }
  std::vector<std::string> ShippedKinds(const std::string& lease_id) {
    std::vector<std::string> kinds;
    for (const FakeGateway::Shipped& s : gateway_.shipped()) {
      if (s.lease_id != lease_id) continue;
      kinds.push_back(s.kind == FakeGateway::Shipped::kResults    ? "results"
                      : s.kind == FakeGateway::Shipped::kComplete ? "complete"
                                                                  : "fail");
    }
    return kinds;
  }
  v1::FailStepRequest FailureOf(const std::string& lease_id) {
    for (const FakeGateway::Shipped& s : gateway_.shipped()) {
      if (s.kind == FakeGateway::Shipped::kFail && s.lease_id == lease_id) return s.fail;
    }
    ADD_FAILURE() << "no failure shipped for " << lease_id;
    return {};
  }

  // Lets the test keep the fake after the agent (which owns its gateway) is gone.
  class Forward : public Gateway {
   public:
    explicit Forward(Gateway& to) : to_(to) {}
    absl::Status Register(const v1::RegisterRequest& q, v1::RegisterResponse* r) override {
      return to_.Register(q, r);
    }
    void StopRegistering() override { to_.StopRegistering(); }
    absl::Status Lease(const v1::LeaseRequest& q, absl::Duration t,
                       v1::LeaseResponse* r) override {
      return to_.Lease(q, t, r);
    }
    absl::Status Heartbeat(const v1::HeartbeatRequest& q, v1::HeartbeatResponse* r) override {
      return to_.Heartbeat(q, r);
    }
    absl::Status ReportResults(const v1::ReportResultsRequest& b) override {
      return to_.ReportResults(b);
    }
    absl::Status CompleteStep(const v1::CompleteStepRequest& q) override {
      return to_.CompleteStep(q);
    }
    absl::Status FailStep(const v1::FailStepRequest& q) override { return to_.FailStep(q); }

   private:
    Gateway& to_;
  };

  cohort::testing::TempDir dir_;
  FakeGateway gateway_;
  FakeExecutor executor_;
};

TEST_F(AgentTest, AStepsResultsArriveBeforeItsCompletionWhichNamesItsOutput) {
  auto agent = StartAgent(Options());
  gateway_.Offer(MakeLease("l-1", {{"name", "a"}, {"rows", 2}, {"facts", R"({"parameters":7})"}}));
  ASSERT_TRUE(gateway_.WaitUntil([&] { return gateway_.Completed("l-1"); }));
  EXPECT_THAT(ShippedKinds("l-1"), ElementsAre("results", "results", "complete"));
  const v1::ProblemResult first = gateway_.shipped()[0].results.results(0);
  EXPECT_EQ(first.problem_id(), "p0");
  EXPECT_EQ(first.verdict(), v1::VERDICT_PASS);
  EXPECT_EQ(nlohmann::json::parse(first.details_json())["completion"], "42");
  const v1::CompleteStepRequest complete = gateway_.shipped().back().complete;
  ASSERT_EQ(complete.outputs_size(), 1);
  EXPECT_EQ(complete.outputs(0).name(), "checkpoint");
  EXPECT_EQ(complete.outputs(0).artifact().locations(0).worker_id(), "w-test");
  EXPECT_THAT(complete.log_tail(), HasSubstr(complete.outputs(0).artifact().digest()));
  EXPECT_EQ(complete.facts_json(), R"({"parameters":7})");
  agent->Drain(absl::Seconds(1));
}

TEST_F(AgentTest, AFullWorkerDoesNotPollAndAFreedSlotIsOfferedAgain) {
  auto agent = StartAgent(Options(/*slots=*/1));
  gateway_.Offer(MakeLease("l-1", {{"name", "a"}, {"block", true}}));
  ASSERT_TRUE(executor_.WaitFor("start a"));
  const int polls = gateway_.lease_calls();
  absl::SleepFor(absl::Milliseconds(600));  // three poll waits
  EXPECT_EQ(gateway_.lease_calls(), polls) << "a worker with no free slot polled for leases";
  gateway_.Revoke("l-1");
  ASSERT_TRUE(executor_.WaitFor("end a"));
  gateway_.Offer(MakeLease("l-2", {{"name", "b"}}));
  ASSERT_TRUE(gateway_.WaitUntil([&] { return gateway_.Completed("l-2"); }));
  EXPECT_EQ(gateway_.lease_requests().back().free_slots(), 1u);
  agent->Drain(absl::Seconds(1));
}

TEST_F(AgentTest, HeartbeatsCarryProgressAndARevokedStepReportsNothing) {
  auto agent = StartAgent(Options());
  gateway_.Offer(MakeLease("l-1", {{"name", "a"}, {"block", true}}));
  ASSERT_TRUE(gateway_.WaitUntil([&] {
    for (const v1::HeartbeatRequest& beat : gateway_.heartbeats()) {
      for (const v1::LeaseStatus& lease : beat.leases()) {
        if (lease.lease_id() == "l-1" && lease.progress().message() == "generating") return true;
      }
    }
    return false;
  }));
  gateway_.Revoke("l-1");
  ASSERT_TRUE(executor_.WaitFor("end a"));
  agent->Drain(absl::Seconds(1));
  EXPECT_THAT(ShippedKinds("l-1"), ElementsAre()) << "a revoked lease is cohortd's to reassign";
}

TEST_F(AgentTest, DrainFinishesWhatEndsInTimeAndHandsBackTheRest) {
  auto agent = StartAgent(Options());
  gateway_.Offer(MakeLease("l-quick", {{"name", "quick"}, {"sleep_ms", 300}}));
  gateway_.Offer(MakeLease("l-long", {{"name", "long"}, {"block", true}}));
  ASSERT_TRUE(executor_.WaitFor("start quick"));
  ASSERT_TRUE(executor_.WaitFor("start long"));
  agent->Drain(absl::Seconds(2));
  EXPECT_THAT(ShippedKinds("l-quick"), ElementsAre("complete"));
  EXPECT_THAT(ShippedKinds("l-long"), ElementsAre("fail"));
  EXPECT_EQ(FailureOf("l-long").status_code(), static_cast<int>(absl::StatusCode::kUnavailable));
  EXPECT_THAT(FailureOf("l-long").message(), HasSubstr("draining"));
}

TEST_F(AgentTest, AnInputOnlyAGonePeerHeldHandsTheStepBackUnstarted) {
  auto agent = StartAgent(Options());
  v1::Lease lease = MakeLease("l-1", {{"name", "a"}});
  v1::StepInput* input = lease.mutable_step()->add_inputs();
  input->set_name("checkpoint");
  input->set_digest("sha256:" + Sha256Hex("the base model"));
  v1::Artifact* artifact = lease.add_inputs();
  artifact->set_digest(input->digest());
  artifact->set_size_bytes(1000);
  v1::ArtifactLocation* where = artifact->add_locations();
  where->set_worker_id("w-gone");
  where->set_endpoint("127.0.0.1:1");  // nothing listens there
  gateway_.Offer(lease);
  ASSERT_TRUE(gateway_.WaitUntil([&] { return gateway_.Failed("l-1"); }, absl::Seconds(30)));
  const v1::FailStepRequest failure = FailureOf("l-1");
  EXPECT_TRUE(failure.input_unavailable());
  EXPECT_EQ(failure.status_code(), static_cast<int>(absl::StatusCode::kUnavailable));
  EXPECT_THAT(failure.message(), HasSubstr("w-gone"));
  EXPECT_THAT(executor_.events(), ElementsAre()) << "the step ran without its input";
  agent->Drain(absl::Seconds(1));
}

TEST_F(AgentTest, WhatCohortdCouldNotTakeIsSentAgainInOrder) {
  gateway_.FailShipping(absl::UnavailableError("cohortd restarting"), 2);
  auto agent = StartAgent(Options());
  gateway_.Offer(MakeLease("l-1", {{"name", "a"}, {"rows", 1}}));
  ASSERT_TRUE(gateway_.WaitUntil([&] { return gateway_.Completed("l-1"); }));
  EXPECT_THAT(ShippedKinds("l-1"), ElementsAre("results", "complete"));
  EXPECT_EQ(gateway_.ship_calls(), 4);
  agent->Drain(absl::Seconds(1));
}

TEST_F(AgentTest, ARestartedWorkerShipsWhatItsLastRunSpooledAndHandsBackWhatItHeld) {
  {
    // cohortd is down for the whole first run: the completion stays spooled.
    gateway_.FailShipping(absl::UnavailableError("cohortd down"), 1 << 30);
    auto agent = StartAgent(Options());
    gateway_.Offer(MakeLease("l-1", {{"name", "a"}}));
    ASSERT_TRUE(executor_.WaitFor("end a"));
    agent->Drain(absl::Seconds(1));  // the step spools its completion; shipping fails
  }
  EXPECT_FALSE(gateway_.Completed("l-1"));
  gateway_.FailShipping(absl::OkStatus(), 0);
  // cohortd still thinks the worker holds l-2 (it was leased as the worker died).
  gateway_.HoldOnRegister(MakeLease("l-2", {{"name", "b"}}));
  auto agent = StartAgent(Options());
  ASSERT_TRUE(gateway_.WaitUntil(
      [&] { return gateway_.Completed("l-1") && gateway_.Failed("l-2"); }));
  EXPECT_THAT(FailureOf("l-2").message(), HasSubstr("restarted"));
  EXPECT_THAT(executor_.events(), ElementsAre("start a", "end a")) << "a step ran twice";
  agent->Drain(absl::Seconds(1));
}

TEST_F(AgentTest, ALaterAttemptStartsOnlyOnceTheEarlierHasEnded) {
  auto agent = StartAgent(Options());
  gateway_.Offer(MakeLease("l-1", {{"name", "first"}, {"block", true}}, "step-x", 1));
  ASSERT_TRUE(executor_.WaitFor("start first"));
  gateway_.Offer(MakeLease("l-2", {{"name", "second"}}, "step-x", 2));
  ASSERT_TRUE(gateway_.WaitUntil([&] { return gateway_.Completed("l-2"); }));
  EXPECT_THAT(executor_.events(),
              ElementsAre("start first", "end first", "start second", "end second"));
  EXPECT_THAT(ShippedKinds("l-1"), ElementsAre()) << "the superseded attempt reported";
  agent->Drain(absl::Seconds(1));
}

// A tool's stray bytes in the step's log reach cohortd as valid UTF-8: a
// proto string that is not would make the completion unparseable.
TEST_F(AgentTest, ALogWithBytesThatAreNotUtf8StillCompletesTheStep) {
  auto agent = StartAgent(Options());
  gateway_.Offer(MakeLease("l-1", {{"name", "a"}, {"stray_bytes_in_log", true}}));
  ASSERT_TRUE(gateway_.WaitUntil([&] { return gateway_.Completed("l-1"); }));
  const v1::CompleteStepRequest complete = gateway_.shipped().back().complete;
  EXPECT_EQ(complete.outputs_size(), 1);
  EXPECT_EQ(ValidUtf8(complete.log_tail()), complete.log_tail());
  EXPECT_THAT(complete.log_tail(), HasSubstr("tool said \xe2\x82\xac"));
  agent->Drain(absl::Seconds(1));
}

TEST_F(AgentTest, AFailingStepShipsItsErrorWithItsLog) {
  auto agent = StartAgent(Options());
  gateway_.Offer(MakeLease("l-1", {{"name", "a"}, {"fail", "llama-quantize exited 1"}}));
  ASSERT_TRUE(gateway_.WaitUntil([&] { return gateway_.Failed("l-1"); }));
  EXPECT_EQ(FailureOf("l-1").status_code(), static_cast<int>(absl::StatusCode::kInternal));
  EXPECT_THAT(FailureOf("l-1").message(), HasSubstr("exited 1"));
  EXPECT_FALSE(FailureOf("l-1").input_unavailable());
  agent->Drain(absl::Seconds(1));
}

TEST_F(AgentTest, AnIdleWorkerSaysSoOnceWhenAskedTo) {
  absl::Notification idle;
  AgentOptions options = Options();
  options.exit_when_idle = absl::Milliseconds(400);
  options.on_idle = [&] { idle.Notify(); };
  gateway_.SetUnfinished(1);  // another worker's step is still running
  auto agent = StartAgent(options);
  EXPECT_FALSE(idle.WaitForNotificationWithTimeout(absl::Milliseconds(900)));
  gateway_.SetUnfinished(0);
  EXPECT_TRUE(idle.WaitForNotificationWithTimeout(absl::Seconds(5)));
  agent->Drain(absl::Seconds(1));
}

TEST_F(AgentTest, CancelStartEndsARegisterLoopThatCannotReachCohortd) {
  gateway_.RefuseRegistering(absl::UnavailableError("connection refused"));
  Agent agent(Options(), executor_, std::make_unique<Forward>(gateway_));
  std::thread canceller([&] {
    gateway_.WaitUntil([&] { return gateway_.register_calls() >= 1; });
    agent.CancelStart();
  });
  // Without the cancel, Start would retry for ever (ctest's timeout is the backstop).
  EXPECT_THAT(agent.Start(), StatusIs(absl::StatusCode::kCancelled, ::testing::_));
  canceller.join();
}

TEST(ResultBatchTest, TheVerdictIsAServerErrorAPassOrAFailInThatOrder) {
  v1::Lease lease = MakeLease("l-1", {});
  eval::ProblemResult row;
  row.id = "gsm8k/3";
  row.completion_tokens = 12;
  row.reasoning_chars = -1;  // never negative on the wire
  EXPECT_EQ(ResultBatch(lease, row).results(0).verdict(), v1::VERDICT_FAIL);
  row.passed = true;
  v1::ReportResultsRequest batch = ResultBatch(lease, row);
  EXPECT_EQ(batch.results(0).verdict(), v1::VERDICT_PASS);
  EXPECT_EQ(batch.results(0).completion_tokens(), 12u);
  EXPECT_EQ(batch.results(0).reasoning_chars(), 0u);
  EXPECT_EQ(batch.results(0).step_key(), lease.step().key());
  EXPECT_EQ(batch.results(0).details_json(), eval::ResultToLine(row));
  row.error_kind = "500 peg-native format";
  EXPECT_EQ(ResultBatch(lease, row).results(0).verdict(), v1::VERDICT_ERROR);
}

}  // namespace
}  // namespace cohort::worker
