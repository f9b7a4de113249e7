// Security of cohortd as a real process on a loopback port: token expiry and
// revocation through `cohortd token`, artifact names and paths that would
// leave the store, and request size limits.
#include <sys/stat.h>

#include <chrono>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/time/clock.h"
#include "cohort/v1/artifact.grpc.pb.h"
#include "cohort/v1/coordinator.grpc.pb.h"
#include "cohort/v1/worker.grpc.pb.h"
#include "common/atomic_file.h"
#include "common/subprocess.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "common/transfer_capability.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/cohortd_process.h"
#include "tests/integration/worker_process.h"

namespace cohort {
namespace {

using testing::BinDir;
using testing::CohortdProcess;
using testing::WorkerProcess;
using testing::WorkerSpec;

const std::string kDigest = "sha256:" + std::string(64, 'b');

// One dropmap step reading the artifact `kDigest` under `input_name`.
v1::SubmitCampaignRequest OneStep(const std::string& input_name,
                                  const std::string& spec_json = "{}") {
  v1::SubmitCampaignRequest request;
  request.mutable_spec()->set_name("one");
  request.mutable_spec()->set_spec_json(spec_json);
  v1::StepSpec* step = request.mutable_spec()->add_steps();
  step->set_node_id("dm");
  step->set_kind(v1::STEP_KIND_DROPMAP);
  step->set_params_json(R"({"target": 98})");
  v1::StepSpecInput* in = step->add_inputs();
  in->set_name(input_name);
  in->set_artifact_digest(kDigest);
  return request;
}
using ::testing::HasSubstr;
using ::testing::Not;

class SecurityIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {}
  void Start(std::vector<std::string> flags) {
    cohortd_ = std::make_unique<CohortdProcess>(dir_.path(), std::move(flags));
    ASSERT_OK(cohortd_->Start());
    auto channel = cohortd_->Channel();
    client_ = v1::Coordinator::NewStub(channel);
    gateway_ = v1::WorkerGateway::NewStub(channel);
  }
  grpc::Status Submit(const std::string& token, const v1::SubmitCampaignRequest& request) {
    v1::SubmitCampaignResponse response;
    return client_->SubmitCampaign(CohortdProcess::Context(token).get(), request, &response);
  }
  grpc::Status ListCampaigns(const std::string& token) {
    v1::ListCampaignsRequest request;
    v1::ListCampaignsResponse response;
    return client_->ListCampaigns(CohortdProcess::Context(token).get(), request, &response);
  }
  // `cohortd token <args>` on the running coordinator's state folder.
  SubprocessResult Token(std::vector<std::string> args) {
    SubprocessOptions options;
    options.argv = {BinDir() + "/cohortd", "--state-dir", dir_.path(), "token"};
    options.argv.insert(options.argv.end(), args.begin(), args.end());
    absl::StatusOr<SubprocessResult> result = RunSubprocess(options);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.value_or(SubprocessResult{});
  }

  cohort::testing::TempDir dir_;
  std::unique_ptr<CohortdProcess> cohortd_;
  std::unique_ptr<v1::Coordinator::Stub> client_;
  std::unique_ptr<v1::WorkerGateway::Stub> gateway_;
};

TEST_F(SecurityIntegrationTest, ExpiredTokenIsRefusedWhileAFreshOneWorks) {
  Start({});
  ASSERT_OK_AND_ASSIGN(std::string short_lived,
                       cohortd_->CreateToken("client", {"--name", "ci", "--ttl", "1s"}));
  ASSERT_OK_AND_ASSIGN(std::string fresh,
                       cohortd_->CreateToken("client", {"--name", "alice", "--ttl", "30d"}));
  // Wait (bounded) until the one-second token has expired on cohortd's clock.
  grpc::Status refused;
  absl::Time give_up = absl::Now() + absl::Seconds(30);
  do {
    absl::SleepFor(absl::Milliseconds(250));
    refused = ListCampaigns(short_lived);
  } while (refused.ok() && absl::Now() < give_up);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(refused.error_message(), HasSubstr("expired"));
  EXPECT_THAT(refused.error_message(), HasSubstr("'ci'"));
  grpc::Status ok = ListCampaigns(fresh);
  EXPECT_TRUE(ok.ok()) << ok.error_message();
  // An unknown token is refused too, without claiming it expired.
  grpc::Status unknown = ListCampaigns("cht_client_0000");
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(unknown.error_message(), Not(HasSubstr("expired")));
  // `token list` shows both with their expiry, never the tokens themselves.
  SubprocessResult list = Token({"list"});
  ASSERT_TRUE(list.Succeeded()) << list.Describe();
  EXPECT_THAT(list.stdout_data, HasSubstr("(expired)"));
  EXPECT_THAT(list.stdout_data, HasSubstr("alice"));
  EXPECT_THAT(list.stdout_data, Not(HasSubstr(fresh)));
}

// cohort.db holds every result and the tokens' hashes: it, its WAL and its
// shared-memory file are the service user's alone from creation on (they
// were 0644).
TEST_F(SecurityIntegrationTest, StateFilesAreReadableByTheServiceUserOnly) {
  Start({});
  ASSERT_OK(cohortd_->CreateToken("client").status());
  for (const char* name : {"cohort.db", "cohort.db-wal", "cohort.db-shm"}) {
    struct stat st {};
    const std::string path = dir_.Join(name);
    if (::stat(path.c_str(), &st) != 0) continue;  // not every file exists at every moment
    EXPECT_EQ(st.st_mode & 077, 0u) << name << " mode " << std::oct << (st.st_mode & 0777);
  }
  struct stat db {};
  ASSERT_EQ(::stat(dir_.Join("cohort.db").c_str(), &db), 0);
  EXPECT_EQ(db.st_mode & 077, 0u);
}

TEST_F(SecurityIntegrationTest, RevokedTokenIsRefusedAtOnce) {
  Start({});
  ASSERT_OK_AND_ASSIGN(std::string token, cohortd_->CreateToken("client", {"--name", "bob"}));
  ASSERT_TRUE(ListCampaigns(token).ok());
  SubprocessResult revoke = Token({"revoke", "--name", "bob"});
  ASSERT_TRUE(revoke.Succeeded()) << revoke.Describe();
  EXPECT_THAT(revoke.stdout_data, HasSubstr("revoked"));
  EXPECT_EQ(ListCampaigns(token).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // A bad TTL is a usage error that creates nothing.
  SubprocessResult bad = Token({"create", "--role", "client", "--ttl", "soon"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.stderr_data, HasSubstr("'soon'"));
}

// The impersonation probe: a worker id belongs to the token that first
// registered it, and a token issued with --worker-id acts only as that id.
// Another token can neither register as it, heartbeat or lease for it, nor
// report results, complete or fail its lease.
TEST_F(SecurityIntegrationTest, AWorkerTokenCannotActAsAnotherWorker) {
  Start({});
  ASSERT_OK_AND_ASSIGN(std::string client, cohortd_->CreateToken("client"));
  ASSERT_OK_AND_ASSIGN(std::string victim, cohortd_->CreateToken("worker"));
  ASSERT_OK_AND_ASSIGN(std::string attacker, cohortd_->CreateToken("worker"));
  ASSERT_OK_AND_ASSIGN(std::string bound_to_wb,
                       cohortd_->CreateToken("worker", {"--worker-id", "wb"}));
  auto register_as = [&](const std::string& token, const std::string& id) {
    v1::RegisterRequest request;
    request.mutable_worker()->set_id(id);
    request.mutable_worker()->set_max_concurrent_steps(1);
    v1::RegisterResponse response;
    return gateway_->Register(CohortdProcess::Context(token).get(), request, &response);
  };
  ASSERT_TRUE(register_as(victim, "wa").ok());
  grpc::Status hijack = register_as(attacker, "wa");
  EXPECT_EQ(hijack.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(hijack.error_message(), HasSubstr("belongs to another worker token"));
  EXPECT_TRUE(register_as(victim, "wa").ok());  // its own restart
  grpc::Status other_id = register_as(bound_to_wb, "wc");
  EXPECT_EQ(other_id.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(other_id.error_message(), HasSubstr("for worker wb"));
  EXPECT_TRUE(register_as(bound_to_wb, "wb").ok());
  // A step for the victim to lease.
  v1::RegisterArtifactsRequest reg;
  v1::Artifact* artifact = reg.add_artifacts();
  artifact->set_digest(kDigest);
  artifact->add_locations()->set_shared_path(dir_.Join("contrib.json"));
  v1::RegisterArtifactsResponse reg_response;
  ASSERT_TRUE(client_->RegisterArtifacts(CohortdProcess::Context(client).get(), reg, &reg_response)
                  .ok());
  ASSERT_TRUE(Submit(client, OneStep("contrib")).ok());
  v1::LeaseRequest lease_request;
  lease_request.set_worker_id("wa");
  lease_request.set_free_slots(1);
  lease_request.set_wait_ms(5000);
  v1::LeaseResponse leased;
  ASSERT_TRUE(gateway_->Lease(CohortdProcess::Context(victim).get(), lease_request, &leased).ok());
  ASSERT_EQ(leased.leases_size(), 1);
  const v1::Lease& lease = leased.leases(0);
  // The attacker, as the victim: lease and heartbeat for its id...
  v1::LeaseResponse stolen;
  EXPECT_EQ(gateway_->Lease(CohortdProcess::Context(attacker).get(), lease_request, &stolen)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::HeartbeatRequest beat;
  beat.set_worker_id("wa");
  v1::LeaseStatus* held = beat.add_leases();
  held->set_lease_id(lease.lease_id());
  held->set_epoch(lease.epoch());
  v1::HeartbeatResponse beat_response;
  EXPECT_EQ(gateway_->Heartbeat(CohortdProcess::Context(attacker).get(), beat, &beat_response)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // ...and with its lease: results, completion, failure.
  {
    auto context = CohortdProcess::Context(attacker);
    auto stream = gateway_->ReportResults(context.get());
    v1::ReportResultsRequest batch;
    batch.set_lease_id(lease.lease_id());
    batch.set_epoch(lease.epoch());
    v1::ProblemResult* row = batch.add_results();
    row->set_step_key(lease.step().key());
    row->set_problem_id("forged");
    stream->Write(batch);
    stream->WritesDone();
    v1::ReportResultsResponse ack;
    EXPECT_FALSE(stream->Read(&ack));
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  v1::CompleteStepRequest complete;
  complete.set_lease_id(lease.lease_id());
  complete.set_epoch(lease.epoch());
  v1::CompleteStepResponse complete_response;
  EXPECT_EQ(gateway_->CompleteStep(CohortdProcess::Context(attacker).get(), complete,
                                   &complete_response)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::FailStepRequest fail;
  fail.set_lease_id(lease.lease_id());
  fail.set_epoch(lease.epoch());
  fail.set_message("forged failure");
  v1::FailStepResponse fail_response;
  EXPECT_EQ(gateway_->FailStep(CohortdProcess::Context(attacker).get(), fail, &fail_response)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // The victim's own calls still work.
  EXPECT_TRUE(
      gateway_->Heartbeat(CohortdProcess::Context(victim).get(), beat, &beat_response).ok());
}

// Campaigns belong to the client identity (token name) that submitted them:
// another client neither sees nor changes them; an admin sees all.
TEST_F(SecurityIntegrationTest, ClientsSeeAndChangeOnlyTheirOwnCampaigns) {
  Start({});
  ASSERT_OK_AND_ASSIGN(std::string alice, cohortd_->CreateToken("client", {"--name", "alice"}));
  ASSERT_OK_AND_ASSIGN(std::string alice2,
                       cohortd_->CreateToken("client", {"--name", "alice"}));
  ASSERT_OK_AND_ASSIGN(std::string bob, cohortd_->CreateToken("client", {"--name", "bob"}));
  ASSERT_OK_AND_ASSIGN(std::string admin, cohortd_->CreateToken("admin"));
  v1::SubmitCampaignRequest request = OneStep("contrib");
  request.set_idempotency_key("alice-sweep-1");
  v1::SubmitCampaignResponse submitted;
  ASSERT_TRUE(client_->SubmitCampaign(CohortdProcess::Context(alice).get(), request, &submitted)
                  .ok());
  const std::string id = submitted.campaign_id();
  auto get = [&](const std::string& token) {
    v1::GetCampaignRequest get_request;
    get_request.set_campaign_id(id);
    v1::Campaign campaign;
    return client_->GetCampaign(CohortdProcess::Context(token).get(), get_request, &campaign);
  };
  auto listed = [&](const std::string& token) {
    v1::ListCampaignsRequest list;
    v1::ListCampaignsResponse response;
    EXPECT_TRUE(client_->ListCampaigns(CohortdProcess::Context(token).get(), list, &response)
                    .ok());
    int n = 0;
    for (const v1::Campaign& c : response.campaigns()) n += c.id() == id ? 1 : 0;
    return n;
  };
  EXPECT_TRUE(get(alice).ok());
  EXPECT_TRUE(get(alice2).ok());  // the same identity, another token
  EXPECT_TRUE(get(admin).ok());
  grpc::Status denied = get(bob);
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(denied.error_message(), HasSubstr("belongs to another client"));
  EXPECT_EQ(listed(alice), 1);
  EXPECT_EQ(listed(admin), 1);
  EXPECT_EQ(listed(bob), 0);
  v1::CampaignRef ref;
  ref.set_campaign_id(id);
  v1::Campaign after;
  EXPECT_EQ(client_->CancelCampaign(CohortdProcess::Context(bob).get(), ref, &after).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(client_->ResumeCampaign(CohortdProcess::Context(bob).get(), ref, &after).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::GetStepLogRequest log;
  ASSERT_GT(submitted.steps_total(), 0u);
  {
    v1::GetCampaignRequest with_steps;
    with_steps.set_campaign_id(id);
    with_steps.set_include_steps(true);
    v1::Campaign campaign;
    ASSERT_TRUE(client_->GetCampaign(CohortdProcess::Context(alice).get(), with_steps, &campaign)
                    .ok());
    ASSERT_GT(campaign.steps_size(), 0);
    log.set_step_key(campaign.steps(0).key());
  }
  v1::GetStepLogResponse log_response;
  EXPECT_EQ(client_->GetStepLog(CohortdProcess::Context(bob).get(), log, &log_response)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(client_->GetStepLog(CohortdProcess::Context(alice).get(), log, &log_response).ok());
  // Streams: results and the watch feed of alice's campaign.
  {
    v1::QueryResultsRequest results;
    results.set_campaign_id(id);
    auto context = CohortdProcess::Context(bob);
    auto reader = client_->QueryResults(context.get(), results);
    v1::ProblemResult row;
    while (reader->Read(&row)) {
    }
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    v1::WatchRequest watch;
    watch.set_campaign_id(id);
    auto context = CohortdProcess::Context(bob);
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    auto reader = client_->Watch(context.get(), watch);
    v1::Event event;
    EXPECT_FALSE(reader->Read(&event));
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  // Bob cannot reach alice's campaign through her idempotency key either.
  v1::SubmitCampaignResponse again;
  grpc::Status reused =
      client_->SubmitCampaign(CohortdProcess::Context(bob).get(), request, &again);
  EXPECT_EQ(reused.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(
      client_->CancelCampaign(CohortdProcess::Context(alice).get(), ref, &after).ok());
}

// The confidentiality and poisoning probes of shared paths, at cohortd: a
// client may register a shared path only under --shared-root; an admin
// anywhere (workers still check every path and digest: SharedInputVerifier).
TEST_F(SecurityIntegrationTest, ClientsRegisterSharedPathsOnlyUnderTheSharedRoot) {
  Start({"--shared-root", "/srv/cohort/shared"});
  ASSERT_OK_AND_ASSIGN(std::string client, cohortd_->CreateToken("client"));
  ASSERT_OK_AND_ASSIGN(std::string admin, cohortd_->CreateToken("admin"));
  auto register_at = [&](const std::string& token, const std::string& path) {
    v1::RegisterArtifactsRequest reg;
    v1::Artifact* artifact = reg.add_artifacts();
    artifact->set_digest(kDigest);
    artifact->add_locations()->set_shared_path(path);
    v1::RegisterArtifactsResponse response;
    return client_->RegisterArtifacts(CohortdProcess::Context(token).get(), reg, &response);
  };
  for (const std::string& path : {std::string("/home/worker/.ssh/id_ed25519"),
                                  std::string("/srv/cohort/shared-not/x"),
                                  std::string("/srv/cohort")}) {
    grpc::Status refused = register_at(client, path);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED) << path;
    EXPECT_THAT(refused.error_message(), HasSubstr("outside cohortd's --shared-root")) << path;
  }
  grpc::Status inside = register_at(client, "/srv/cohort/shared/datasets/gsm8k.jsonl");
  EXPECT_TRUE(inside.ok()) << inside.error_message();
  grpc::Status by_admin = register_at(admin, "/data/elsewhere/model");
  EXPECT_TRUE(by_admin.ok()) << by_admin.error_message();
}

// Names and paths from a client or a worker that would leave a folder are
// refused with INVALID_ARGUMENT naming the problem, and nothing is stored.
TEST_F(SecurityIntegrationTest, CohortdRefusesUnsafeNamesAndPaths) {
  Start({});
  ASSERT_OK_AND_ASSIGN(std::string client, cohortd_->CreateToken("client"));
  ASSERT_OK_AND_ASSIGN(std::string worker, cohortd_->CreateToken("worker"));
  for (const std::string& name : {std::string("../x"), std::string("/etc/passwd"),
                                  std::string("a/../../b"), std::string("a\0b", 3)}) {
    grpc::Status submit = Submit(client, OneStep(name));
    EXPECT_EQ(submit.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << name;
    EXPECT_THAT(submit.error_message(), HasSubstr("input name")) << name;
  }
  v1::RegisterArtifactsRequest reg;
  v1::Artifact* artifact = reg.add_artifacts();
  artifact->set_digest(kDigest);
  artifact->add_locations()->set_shared_path("/srv/models/../../etc/passwd");
  v1::RegisterArtifactsResponse reg_response;
  grpc::Status registered =
      client_->RegisterArtifacts(CohortdProcess::Context(client).get(), reg, &reg_response);
  EXPECT_EQ(registered.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(registered.error_message(), HasSubstr("shared_path"));
  v1::CompleteStepRequest complete;
  complete.set_lease_id("l-any");
  v1::StepOutput* out = complete.add_outputs();
  out->set_name("../../checkpoint");
  out->mutable_artifact()->set_digest(kDigest);
  v1::CompleteStepResponse complete_response;
  grpc::Status completed = gateway_->CompleteStep(CohortdProcess::Context(worker).get(),
                                                  complete, &complete_response);
  EXPECT_EQ(completed.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(completed.error_message(), HasSubstr("output name"));
  v1::RegisterRequest join;
  join.mutable_worker()->set_id("../w1");
  v1::RegisterResponse join_response;
  EXPECT_EQ(gateway_->Register(CohortdProcess::Context(worker).get(), join, &join_response)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // Nothing was stored; the same requests with safe names go through.
  v1::ListArtifactsRequest list;
  v1::ListArtifactsResponse listed;
  ASSERT_TRUE(client_->ListArtifacts(CohortdProcess::Context(client).get(), list, &listed).ok());
  EXPECT_EQ(listed.artifacts_size(), 0);
  grpc::Status ok = Submit(client, OneStep("contrib"));
  EXPECT_TRUE(ok.ok()) << ok.error_message();
}

// An oversize request is refused (RESOURCE_EXHAUSTED from the listener, or
// INVALID_ARGUMENT for too many entries) and cohortd keeps serving.
// The probe as an attacker sends it: one 40 KB SubmitCampaign (a dry run
// too) whose step params nest 20,000 arrays. It killed cohortd with a stack
// overflow; now it is refused and cohortd keeps serving.
TEST_F(SecurityIntegrationTest, DeeplyNestedParamsAreRefusedAndCohortdKeepsServing) {
  Start({});
  ASSERT_OK_AND_ASSIGN(std::string client, cohortd_->CreateToken("client"));
  for (bool dry_run : {true, false}) {
    v1::SubmitCampaignRequest request = OneStep("contrib");
    request.set_dry_run(dry_run);
    request.mutable_spec()->mutable_steps(0)->set_params_json(
        "{\"a\":" + std::string(20000, '[') + std::string(20000, ']') + "}");
    grpc::Status refused = Submit(client, request);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << dry_run;
    EXPECT_THAT(refused.error_message(), HasSubstr("nests deeper than 64")) << dry_run;
  }
  EXPECT_TRUE(cohortd_->HealthServing());
  EXPECT_TRUE(ListCampaigns(client).ok());
}

TEST_F(SecurityIntegrationTest, OversizeRequestsAreRefusedAndCohortdKeepsServing) {
  Start({"--max-request-mb", "1"});
  ASSERT_OK_AND_ASSIGN(std::string client, cohortd_->CreateToken("client"));
  ASSERT_OK_AND_ASSIGN(std::string worker, cohortd_->CreateToken("worker"));
  grpc::Status big = Submit(client, OneStep("contrib", std::string(2 << 20, ' ')));
  EXPECT_EQ(big.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << big.error_message();
  // Under the message size, over a field limit: 10,001 results in one batch.
  v1::ReportResultsRequest batch;
  batch.set_lease_id("l-any");
  for (int i = 0; i < 10001; ++i) batch.add_results()->set_problem_id("p");
  auto context = CohortdProcess::Context(worker);
  auto stream = gateway_->ReportResults(context.get());
  v1::ReportResultsResponse ack;
  stream->Write(batch);
  EXPECT_FALSE(stream->Read(&ack));
  grpc::Status refused = stream->Finish();
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(refused.error_message(), HasSubstr("results has 10001 entries"));
  // The same channel, the next calls: served.
  grpc::Status ok = Submit(client, OneStep("contrib"));
  EXPECT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_TRUE(ListCampaigns(client).ok());
  EXPECT_TRUE(cohortd_->HealthServing());
}

// A real cohort-worker's artifact service: traversal in the path or digest
// is refused naming the problem, an oversize request is refused, and the
// service keeps answering.
TEST_F(SecurityIntegrationTest, WorkerArtifactServiceRefusesTraversalAndOversize) {
  Start({});
  ASSERT_OK_AND_ASSIGN(std::string client, cohortd_->CreateToken("client"));
  ASSERT_OK_AND_ASSIGN(std::string worker_token, cohortd_->CreateToken("worker"));
  ASSERT_OK(WriteFileAtomically(dir_.Join("worker.token"), worker_token));
  WorkerSpec spec;
  spec.id = "w1";
  spec.state_dir = dir_.Join("w1");
  spec.coordinator = cohortd_->address();
  spec.token_file = dir_.Join("worker.token");
  WorkerProcess worker(spec);
  ASSERT_OK(worker.Start());
  // Its artifact endpoint, once it has registered.
  std::string endpoint;
  absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (endpoint.empty() && absl::Now() < give_up) {
    v1::ListWorkersRequest request;
    v1::ListWorkersResponse response;
    if (client_->ListWorkers(CohortdProcess::Context(client).get(), request, &response).ok() &&
        response.workers_size() > 0) {
      endpoint = response.workers(0).artifact_endpoint();
    }
    if (endpoint.empty()) absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_FALSE(endpoint.empty()) << "the worker never registered; see " << worker.LogPath();
  auto peer = v1::ArtifactService::NewStub(
      grpc::CreateChannel(endpoint, grpc::InsecureChannelCredentials()));
  // Peers present a capability cohortd derives from its secret for w1; the
  // fleet's worker token opens nothing.
  ASSERT_OK_AND_ASSIGN(std::string secret, ReadFileToString(dir_.Join("transfer.secret")));
  const std::string key = TransferKeyFor(absl::StripAsciiWhitespace(secret), "w1");
  auto capability = [&](const std::string& digest) {
    auto context = std::make_unique<grpc::ClientContext>();
    context->AddMetadata("authorization",
                         "Capability " + IssueCapability(key, digest,
                                                         absl::Now() + absl::Minutes(5)));
    return context;
  };
  auto fetch = [&](const std::string& digest, const std::string& path) {
    v1::FetchArtifactRequest request;
    request.set_digest(digest);
    request.set_relative_path(path);
    auto context = capability(digest);
    auto reader = peer->FetchArtifact(context.get(), request);
    v1::ArtifactChunk chunk;
    while (reader->Read(&chunk)) {
    }
    return reader->Finish();
  };
  {
    v1::FetchArtifactRequest request;
    request.set_digest(kDigest);
    request.set_relative_path("model.gguf");
    auto context = CohortdProcess::Context(worker_token);
    auto reader = peer->FetchArtifact(context.get(), request);
    v1::ArtifactChunk chunk;
    EXPECT_FALSE(reader->Read(&chunk));
    grpc::Status refused = reader->Finish();
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAUTHENTICATED) << refused.error_message();
  }
  for (const std::string& path : {std::string("../../worker_id"), std::string("/etc/passwd"),
                                  std::string("a/../../b"), std::string("x\0/../y", 7)}) {
    grpc::Status status = fetch(kDigest, path);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << path;
    EXPECT_THAT(status.error_message(), HasSubstr("relative_path")) << path;
  }
  grpc::Status bad_digest = fetch("sha256:../../../etc", "model.gguf");
  EXPECT_EQ(bad_digest.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad_digest.error_message(), HasSubstr("not sha256:"));
  // Over the artifact listener's 64 KiB request limit.
  grpc::Status oversize = fetch(kDigest, std::string(100 << 10, 'a'));
  EXPECT_EQ(oversize.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << oversize.error_message();
  // Still serving: a well-formed request for an artifact it lacks.
  v1::StatArtifactRequest stat;
  stat.set_digest(kDigest);
  v1::StatArtifactResponse stat_response;
  grpc::Status not_here = peer->StatArtifact(capability(kDigest).get(), stat, &stat_response);
  EXPECT_EQ(not_here.error_code(), grpc::StatusCode::NOT_FOUND) << not_here.error_message();
}

}  // namespace
}  // namespace cohort
