// cohortd as a real process on a loopback port: auth, the lease protocol,
// memoization, epoch fencing, kill -9 recovery and the watch feed.
#include <set>
#include <thread>

#include "absl/time/clock.h"
#include "cohort/v1/coordinator.grpc.pb.h"
#include "cohort/v1/worker.grpc.pb.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gtest/gtest.h"
#include "tests/integration/cohortd_process.h"

namespace cohort {
namespace {

using testing::CohortdProcess;

const std::string kContrib = "sha256:" + std::string(64, 'b');
const std::string kBase = "sha256:" + std::string(64, 'a');

std::string Digest(char c) { return "sha256:" + std::string(64, c); }

v1::StepSpecInput ArtifactInput(const std::string& name, const std::string& digest) {
  v1::StepSpecInput in;
  in.set_name(name);
  in.set_artifact_digest(digest);
  return in;
}

v1::StepSpecInput NodeInput(const std::string& name, const std::string& node,
                            const std::string& output) {
  v1::StepSpecInput in;
  in.set_name(name);
  in.mutable_node_output()->set_node_id(node);
  in.mutable_node_output()->set_output(output);
  return in;
}

// dropmap -> prune -> upweight.
v1::SubmitCampaignRequest ChainRequest(const std::string& alpha = "1.2") {
  v1::SubmitCampaignRequest request;
  v1::CampaignSpec* spec = request.mutable_spec();
  spec->set_name("chain");
  v1::StepSpec* dm = spec->add_steps();
  dm->set_node_id("dm");
  dm->set_kind(v1::STEP_KIND_DROPMAP);
  dm->set_params_json(R"({"target": 98})");
  *dm->add_inputs() = ArtifactInput("contrib", kContrib);
  v1::StepSpec* pr = spec->add_steps();
  pr->set_node_id("pr");
  pr->set_kind(v1::STEP_KIND_PRUNE);
  *pr->add_inputs() = ArtifactInput("checkpoint", kBase);
  *pr->add_inputs() = NodeInput("drop_map", "dm", "drop_map");
  v1::StepSpec* up = spec->add_steps();
  up->set_node_id("up");
  up->set_kind(v1::STEP_KIND_UPWEIGHT);
  up->set_params_json("{\"alpha\": " + alpha + "}");
  *up->add_inputs() = NodeInput("checkpoint", "pr", "checkpoint");
  return request;
}

class CoordinatorIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override { StartCohortd({}); }
  void StartCohortd(std::vector<std::string> flags) {
    cohortd_ = std::make_unique<CohortdProcess>(dir_.path(), std::move(flags));
    ASSERT_OK(cohortd_->Start());
    if (client_token_.empty()) {
      ASSERT_OK_AND_ASSIGN(client_token_, cohortd_->CreateToken("client"));
      ASSERT_OK_AND_ASSIGN(worker_token_, cohortd_->CreateToken("worker"));
    }
    Connect();
  }
  void Connect() {
    auto channel = cohortd_->Channel();
    client_ = v1::Coordinator::NewStub(channel);
    gateway_ = v1::WorkerGateway::NewStub(channel);
  }
  std::string Register(const std::string& id) {
    v1::RegisterRequest request;
    request.mutable_worker()->set_id(id);
    v1::RegisterResponse response;
    grpc::Status status =
        gateway_->Register(CohortdProcess::Context(worker_token_).get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.worker_id();
  }
  // One long poll; returns the lease or nullopt.
  std::optional<v1::Lease> Lease(const std::string& worker, uint32_t wait_ms = 2000) {
    v1::LeaseRequest request;
    request.set_worker_id(worker);
    request.set_free_slots(1);
    request.set_free_disk_bytes(1ull << 40);
    request.set_wait_ms(wait_ms);
    v1::LeaseResponse response;
    grpc::Status status = gateway_->Lease(
        CohortdProcess::Context(worker_token_, absl::Seconds(30)).get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    if (response.leases_size() == 0) return std::nullopt;
    return response.leases(0);
  }
  grpc::Status Complete(const v1::Lease& lease, const std::string& output, char digest) {
    v1::CompleteStepRequest request;
    request.set_lease_id(lease.lease_id());
    request.set_epoch(lease.epoch());
    v1::StepOutput* out = request.add_outputs();
    out->set_name(output);
    out->mutable_artifact()->set_digest(Digest(digest));
    out->mutable_artifact()->add_locations()->set_worker_id("w1");
    v1::CompleteStepResponse response;
    return gateway_->CompleteStep(CohortdProcess::Context(worker_token_).get(), request,
                                  &response);
  }
  v1::Campaign GetCampaign(const std::string& id) {
    v1::GetCampaignRequest request;
    request.set_campaign_id(id);
    request.set_include_steps(true);
    v1::Campaign campaign;
    grpc::Status status =
        client_->GetCampaign(CohortdProcess::Context(client_token_).get(), request, &campaign);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return campaign;
  }
  v1::SubmitCampaignResponse Submit(const v1::SubmitCampaignRequest& request) {
    v1::SubmitCampaignResponse response;
    grpc::Status status = client_->SubmitCampaign(
        CohortdProcess::Context(client_token_).get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  cohort::testing::TempDir dir_;
  std::unique_ptr<CohortdProcess> cohortd_;
  std::string client_token_, worker_token_;
  std::unique_ptr<v1::Coordinator::Stub> client_;
  std::unique_ptr<v1::WorkerGateway::Stub> gateway_;
};

TEST_F(CoordinatorIntegrationTest, RefusesMissingWrongAndWrongRoleTokens) {
  v1::ListCampaignsRequest request;
  v1::ListCampaignsResponse response;
  EXPECT_EQ(client_->ListCampaigns(CohortdProcess::Context("").get(), request, &response)
                .error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(client_->ListCampaigns(CohortdProcess::Context("cht_client_forged").get(),
                                   request, &response)
                .error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(client_->ListCampaigns(CohortdProcess::Context(worker_token_).get(), request,
                                   &response)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::LeaseRequest lease;
  lease.set_worker_id("w1");
  v1::LeaseResponse lease_response;
  EXPECT_EQ(gateway_->Lease(CohortdProcess::Context(client_token_).get(), lease,
                            &lease_response)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(client_->ListCampaigns(CohortdProcess::Context(client_token_).get(), request,
                                     &response)
                  .ok());
  EXPECT_TRUE(cohortd_->HealthServing());  // health needs no token
}

TEST_F(CoordinatorIntegrationTest, ChainCompletesAndResubmissionRunsNothing) {
  v1::SubmitCampaignResponse submitted = Submit(ChainRequest());
  EXPECT_EQ(submitted.steps_to_run(), 3u);
  EXPECT_EQ(submitted.steps_total(), 3u);
  EXPECT_EQ(submitted.steps_size(), 0);  // the graph only when asked for
  std::string worker = Register("w1");
  const char* outputs[] = {"drop_map", "checkpoint", "checkpoint"};
  for (int i = 0; i < 3; ++i) {
    std::optional<v1::Lease> lease = Lease(worker);
    ASSERT_TRUE(lease.has_value()) << i;
    EXPECT_EQ(lease->epoch(), 1u);
    if (i == 1) {  // prune sees the drop map where the dropmap step left it
      ASSERT_EQ(lease->inputs_size(), 2);
      EXPECT_EQ(lease->inputs(1).digest(), Digest('0'));
      EXPECT_EQ(lease->inputs(1).locations(0).worker_id(), "w1");
    }
    grpc::Status done = Complete(*lease, outputs[i], static_cast<char>('0' + i));
    ASSERT_TRUE(done.ok()) << done.error_message();
  }
  EXPECT_EQ(GetCampaign(submitted.campaign_id()).state(), v1::CAMPAIGN_STATE_SUCCEEDED);
  v1::SubmitCampaignRequest with_steps = ChainRequest();
  with_steps.set_return_steps(true);
  v1::SubmitCampaignResponse again = Submit(with_steps);
  EXPECT_EQ(again.steps_to_run(), 0u);
  EXPECT_EQ(again.steps_cached(), 3u);
  ASSERT_EQ(again.steps_size(), 3);
  for (const v1::Step& step : again.steps()) {
    EXPECT_EQ(step.state(), v1::STEP_STATE_SUCCEEDED) << step.key();
  }
  EXPECT_FALSE(Lease(worker, 300).has_value());
  EXPECT_EQ(GetCampaign(again.campaign_id()).state(), v1::CAMPAIGN_STATE_SUCCEEDED);
}

TEST_F(CoordinatorIntegrationTest, LongPollReturnsAsSoonAsWorkArrives) {
  std::string worker = Register("w1");
  std::optional<v1::Lease> got;
  absl::Time start = absl::Now();
  std::thread poller([&] { got = Lease(worker, 15000); });
  absl::SleepFor(absl::Milliseconds(300));
  Submit(ChainRequest());
  poller.join();
  ASSERT_TRUE(got.has_value());
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST_F(CoordinatorIntegrationTest, KillNineBetweenRpcsLosesNothing) {
  v1::SubmitCampaignResponse submitted = Submit(ChainRequest());
  std::string worker = Register("w1");
  std::optional<v1::Lease> lease = Lease(worker);
  ASSERT_TRUE(lease.has_value());
  // cohortd dies while the worker holds the lease...
  cohortd_->Kill9();
  StartCohortd({});
  // ...and the worker reattaches to the same lease and finishes it.
  v1::RegisterRequest again;
  again.mutable_worker()->set_id(worker);
  v1::RegisterResponse reattached;
  ASSERT_TRUE(gateway_->Register(CohortdProcess::Context(worker_token_).get(), again,
                                 &reattached)
                  .ok());
  ASSERT_EQ(reattached.leases_size(), 1);
  EXPECT_EQ(reattached.leases(0).lease_id(), lease->lease_id());
  ASSERT_TRUE(Complete(*lease, "drop_map", '0').ok());
  for (int i = 1; i < 3; ++i) {
    cohortd_->Kill9();
    StartCohortd({});
    std::optional<v1::Lease> next = Lease(worker);
    ASSERT_TRUE(next.has_value());
    ASSERT_TRUE(Complete(*next, "checkpoint", static_cast<char>('0' + i)).ok());
  }
  v1::Campaign campaign = GetCampaign(submitted.campaign_id());
  EXPECT_EQ(campaign.state(), v1::CAMPAIGN_STATE_SUCCEEDED);
  for (const v1::Step& step : campaign.steps()) {
    EXPECT_EQ(step.attempts(), 1u) << step.display_name();  // none ran twice
  }
}

TEST_F(CoordinatorIntegrationTest, StaleEpochIsRefusedAfterExpiry) {
  cohortd_->Kill9();
  StartCohortd({"--lease-seconds", "1"});
  Submit(ChainRequest());
  std::string w1 = Register("w1");
  std::string w2 = Register("w2");
  std::optional<v1::Lease> first = Lease(w1);
  ASSERT_TRUE(first.has_value());
  // w1 goes silent; the lease expires and w2 gets the step.
  std::optional<v1::Lease> second = Lease(w2, 10000);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->step().key(), first->step().key());
  EXPECT_EQ(second->epoch(), 2u);
  grpc::Status stale = Complete(*first, "drop_map", '0');
  EXPECT_EQ(stale.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(Complete(*second, "drop_map", '0').ok());
}

// `cohort workers` tells a worker that stopped heartbeating (lost, after a
// lease duration) from a live one, and leaves it out after
// --forget-workers-after.
TEST_F(CoordinatorIntegrationTest, SilentWorkersAreLostThenForgotten) {
  cohortd_->Kill9();
  StartCohortd({"--lease-seconds", "1", "--forget-workers-after", "4s"});
  Register("w1");
  auto state_of = [&](const std::string& id) {
    v1::ListWorkersResponse response;
    grpc::Status status = client_->ListWorkers(CohortdProcess::Context(client_token_).get(),
                                               v1::ListWorkersRequest(), &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    for (const v1::WorkerInfo& w : response.workers()) {
      if (w.id() == id) return w.state();
    }
    return std::string("absent");
  };
  EXPECT_EQ(state_of("w1"), "live");
  // Each state is waited for (bounded), not assumed after a sleep.
  auto wait_for = [&](const std::string& want) {
    absl::Time give_up = absl::Now() + absl::Seconds(20);
    std::string state = state_of("w1");
    while (state != want && absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(100));
      state = state_of("w1");
    }
    return state;
  };
  EXPECT_EQ(wait_for("lost"), "lost");
  EXPECT_EQ(wait_for("absent"), "absent");
  Register("w1");  // back: listed and live again
  EXPECT_EQ(state_of("w1"), "live");
}

TEST_F(CoordinatorIntegrationTest, ResultsAreStoredOnceAcrossRetries) {
  Submit(ChainRequest());
  std::string worker = Register("w1");
  std::optional<v1::Lease> lease = Lease(worker);
  ASSERT_TRUE(lease.has_value());
  auto send = [&](int first, int last) {
    auto context = CohortdProcess::Context(worker_token_);
    auto stream = gateway_->ReportResults(context.get());
    v1::ReportResultsRequest batch;
    batch.set_lease_id(lease->lease_id());
    batch.set_epoch(lease->epoch());
    batch.set_batch_id(7);
    for (int i = first; i < last; ++i) {
      v1::ProblemResult* r = batch.add_results();
      r->set_problem_id("gsm8k/" + std::to_string(i));
      r->set_completion("The answer is " + std::to_string(i));
      r->set_verdict(v1::VERDICT_PASS);
    }
    EXPECT_TRUE(stream->Write(batch));
    v1::ReportResultsResponse ack;
    EXPECT_TRUE(stream->Read(&ack));
    stream->WritesDone();
    EXPECT_TRUE(stream->Finish().ok());
    return ack;
  };
  v1::ReportResultsResponse first = send(0, 10);
  EXPECT_EQ(first.inserted(), 10u);
  cohortd_->Kill9();  // the ack may have been lost: the worker resends
  StartCohortd({});
  v1::ReportResultsResponse second = send(5, 15);
  EXPECT_EQ(second.inserted(), 5u);
  EXPECT_EQ(second.duplicates(), 5u);
  v1::QueryResultsRequest query;
  query.set_step_key(lease->step().key());
  auto context = CohortdProcess::Context(client_token_);
  auto reader = client_->QueryResults(context.get(), query);
  std::set<std::string> ids;
  v1::ProblemResult result;
  int rows = 0;
  while (reader->Read(&result)) {
    ids.insert(result.problem_id());
    ++rows;
  }
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(rows, 15);
  EXPECT_EQ(ids.size(), 15u);
}

TEST_F(CoordinatorIntegrationTest, WatchResumesFromCursorWithoutGapsOrDuplicates) {
  v1::SubmitCampaignResponse submitted = Submit(ChainRequest());
  std::string worker = Register("w1");
  // A watcher reads the snapshot and the first events, then disconnects.
  uint64_t cursor = 0;
  std::vector<uint64_t> seen;
  {
    v1::WatchRequest request;
    request.set_campaign_id(submitted.campaign_id());
    auto context = CohortdProcess::Context(client_token_);
    auto reader = client_->Watch(context.get(), request);
    v1::Event event;
    bool snapshot_done = false;
    while (reader->Read(&event)) {
      if (event.type() == v1::EVENT_TYPE_SNAPSHOT_END) {
        snapshot_done = true;
        cursor = event.cursor();
        std::optional<v1::Lease> lease = Lease(worker);  // causes new events
        ASSERT_TRUE(lease.has_value());
        ASSERT_TRUE(Complete(*lease, "drop_map", '0').ok());
        continue;
      }
      if (!snapshot_done) continue;
      seen.push_back(event.cursor());
      cursor = event.cursor();
      if (event.step_state() == v1::STEP_STATE_SUCCEEDED) break;
    }
    context->TryCancel();
  }
  ASSERT_FALSE(seen.empty());
  // More happens while nobody watches.
  std::optional<v1::Lease> lease = Lease(worker);
  ASSERT_TRUE(lease.has_value());
  ASSERT_TRUE(Complete(*lease, "checkpoint", '1').ok());
  // Reconnecting with the cursor gives exactly the events after it.
  v1::WatchRequest request;
  request.set_campaign_id(submitted.campaign_id());
  request.set_after_cursor(cursor);
  auto context = CohortdProcess::Context(client_token_);
  auto reader = client_->Watch(context.get(), request);
  v1::Event event;
  std::vector<uint64_t> resumed;
  while (reader->Read(&event)) {
    resumed.push_back(event.cursor());
    if (event.step_state() == v1::STEP_STATE_READY) break;  // upweight became ready
  }
  context->TryCancel();
  ASSERT_FALSE(resumed.empty());
  EXPECT_GT(resumed.front(), cursor);
  for (size_t i = 1; i < resumed.size(); ++i) EXPECT_EQ(resumed[i], resumed[i - 1] + 1);
  std::set<uint64_t> all(seen.begin(), seen.end());
  for (uint64_t c : resumed) EXPECT_TRUE(all.insert(c).second) << "duplicate " << c;
}

}  // namespace
}  // namespace cohort
