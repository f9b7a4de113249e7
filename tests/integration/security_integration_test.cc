// Security of cohortd as a real process on a loopback port: token expiry and
// revocation through `cohortd token`, artifact names and paths that would
// leave the store, and request size limits.
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "cohort/v1/coordinator.grpc.pb.h"
#include "cohort/v1/worker.grpc.pb.h"
#include "common/subprocess.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/cohortd_process.h"

namespace cohort {
namespace {

using testing::BinDir;
using testing::CohortdProcess;
using ::testing::HasSubstr;
using ::testing::Not;

class SecurityIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override { Start({}); }
  void Start(std::vector<std::string> flags) {
    cohortd_ = std::make_unique<CohortdProcess>(dir_.path(), std::move(flags));
    ASSERT_OK(cohortd_->Start());
    auto channel = cohortd_->Channel();
    client_ = v1::Coordinator::NewStub(channel);
    gateway_ = v1::WorkerGateway::NewStub(channel);
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

TEST_F(SecurityIntegrationTest, RevokedTokenIsRefusedAtOnce) {
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

}  // namespace
}  // namespace cohort
