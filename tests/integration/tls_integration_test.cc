// cohortd serving TLS (certificates made here with the openssl tool): a
// worker configured with the CA runs a step end to end, and a plaintext
// client cannot talk to cohortd at all.
#include <filesystem>

#include "absl/time/clock.h"
#include "cohort/v1/coordinator.grpc.pb.h"
#include "common/atomic_file.h"
#include "common/sha256.h"
#include "common/subprocess.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gtest/gtest.h"
#include "tests/integration/cohortd_process.h"
#include "tests/integration/worker_process.h"

namespace cohort {
namespace {

using testing::CohortdProcess;
using testing::WorkerProcess;
using testing::WorkerSpec;

void RunTool(std::vector<std::string> argv, const std::string& dir) {
  SubprocessOptions options;
  options.argv = std::move(argv);
  options.working_dir = dir;
  absl::StatusOr<SubprocessResult> r = RunSubprocess(options);
  ASSERT_TRUE(r.ok() && r->Succeeded()) << (r.ok() ? r->Describe() : r.status().ToString());
}

// A CA and a server certificate for 127.0.0.1 signed by it.
void MakeCertificates(const std::string& dir) {
  RunTool({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
       "-subj", "/CN=cohort-test-ca", "-keyout", "ca.key", "-out", "ca.pem"}, dir);
  RunTool({"openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
       "-keyout", "server.key", "-out", "server.csr"}, dir);
  ASSERT_OK(WriteFileAtomically(dir + "/san.ext", "subjectAltName=IP:127.0.0.1\n"));
  RunTool({"openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
       "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "server.pem"}, dir);
}

TEST(TlsIntegrationTest, WorkerRunsOverTlsAndPlaintextIsRefused) {
  cohort::testing::TempDir dir;
  MakeCertificates(dir.path());
  std::filesystem::create_directories(dir.Join("cohortd"));
  CohortdProcess cohortd(dir.Join("cohortd"), {"--tls-cert", dir.Join("server.pem"),
                                              "--tls-key", dir.Join("server.key")});
  cohortd.set_tls_ca(dir.Join("ca.pem"));
  ASSERT_OK(cohortd.Start());
  ASSERT_OK_AND_ASSIGN(std::string client_token, cohortd.CreateToken("client"));
  ASSERT_OK_AND_ASSIGN(std::string worker_token, cohortd.CreateToken("worker"));
  ASSERT_OK(WriteFileAtomically(dir.Join("worker.token"), worker_token));

  // Plaintext to a TLS listener fails before any RPC is answered.
  auto plain = v1::Coordinator::NewStub(
      grpc::CreateChannel(cohortd.address(), grpc::InsecureChannelCredentials()));
  v1::ListCampaignsRequest list;
  v1::ListCampaignsResponse listed;
  grpc::Status refused = plain->ListCampaigns(
      CohortdProcess::Context(client_token, absl::Seconds(3)).get(), list, &listed);
  EXPECT_FALSE(refused.ok());

  RunTool({testing::BinDir() + "/cohort-worker", "synth-contrib", "--layers", "2", "--experts",
       "8", "--output", "contrib.json"}, dir.path());
  auto client = v1::Coordinator::NewStub(cohortd.Channel());
  std::string digest = "sha256:" + Sha256File(dir.Join("contrib.json")).value();
  v1::RegisterArtifactsRequest reg;
  v1::Artifact* a = reg.add_artifacts();
  a->set_digest(digest);
  a->add_locations()->set_shared_path(dir.Join("contrib.json"));
  v1::RegisterArtifactsResponse reg_response;
  ASSERT_TRUE(client->RegisterArtifacts(CohortdProcess::Context(client_token).get(), reg,
                                        &reg_response).ok());

  WorkerSpec spec;
  spec.id = "w-tls";
  spec.state_dir = dir.Join("w");
  spec.coordinator = cohortd.address();
  spec.token_file = dir.Join("worker.token");
  spec.extra_flags = {"--tls-ca", dir.Join("ca.pem")};
  WorkerProcess worker(spec);
  ASSERT_OK(worker.Start());

  v1::SubmitCampaignRequest submit;
  v1::StepSpec* step = submit.mutable_spec()->add_steps();
  step->set_node_id("dm");
  step->set_kind(v1::STEP_KIND_DROPMAP);
  step->set_params_json(R"({"flags": {"target": 6}})");
  v1::StepSpecInput* in = step->add_inputs();
  in->set_name("contrib");
  in->set_artifact_digest(digest);
  v1::SubmitCampaignResponse submitted;
  ASSERT_TRUE(client->SubmitCampaign(CohortdProcess::Context(client_token).get(), submit,
                                     &submitted).ok());
  v1::GetCampaignRequest get;
  get.set_campaign_id(submitted.campaign_id());
  v1::Campaign campaign;
  absl::Time deadline = absl::Now() + absl::Seconds(60);
  do {
    absl::SleepFor(absl::Milliseconds(100));
    client->GetCampaign(CohortdProcess::Context(client_token).get(), get, &campaign);
  } while (campaign.state() == v1::CAMPAIGN_STATE_RUNNING && absl::Now() < deadline);
  EXPECT_EQ(campaign.state(), v1::CAMPAIGN_STATE_SUCCEEDED)
      << ReadFileToString(worker.LogPath()).value_or("");
}

}  // namespace
}  // namespace cohort
