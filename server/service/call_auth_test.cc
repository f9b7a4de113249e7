#include "server/service/call_auth.h"

#include <string>
#include <utility>
#include <vector>

#include "common/testing/fake_clock.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::server {
namespace {

using ::cohort::testing::FakeClock;
using ::cohort::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

TEST(BearerTokenTest, TakesTheTokenOfABearerHeaderOnly) {
  EXPECT_EQ(BearerToken("Bearer abc"), "abc");
  EXPECT_EQ(BearerToken("Basic abc"), "");
  EXPECT_EQ(BearerToken("bearer abc"), "");
  EXPECT_EQ(BearerToken(""), "");
}

TEST(RolesForMethodTest, EachServiceHasItsRoles) {
  bool open = true;
  EXPECT_THAT(RolesForMethod("/cohort.v1.Coordinator/SubmitCampaign", &open),
              ElementsAre("client", "admin"));
  EXPECT_FALSE(open);
  EXPECT_THAT(RolesForMethod("/cohort.v1.WorkerGateway/Lease", &open),
              ElementsAre("worker", "admin"));
  EXPECT_FALSE(open);
  EXPECT_THAT(RolesForMethod("/grpc.health.v1.Health/Check", &open), ElementsAre());
  EXPECT_TRUE(open);
  RolesForMethod("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &open);
  EXPECT_TRUE(open);
  // Unknown methods need a token too: nothing is answered to nobody.
  EXPECT_THAT(RolesForMethod("/cohort.v1.Nothing/Here", &open),
              ElementsAre("client", "worker", "admin"));
  EXPECT_FALSE(open);
}

class HeaderAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = CoordinatorStore::Open(dir_.Join("c.db"), {}).value();
    coordinator_ = Coordinator::Create(std::move(store), clock_, {}).value();
  }
  // Runs the processor as gRPC does, with the call's headers.
  grpc::Status Call(const std::string& method, const std::string& authorization) {
    std::multimap<grpc::string_ref, grpc::string_ref> headers;
    headers.emplace(":path", method);
    if (!authorization.empty()) headers.emplace("authorization", authorization);
    grpc::AuthMetadataProcessor::OutputMetadata consumed, response;
    return auth_->Process(headers, nullptr, &consumed, &response);
  }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<Coordinator> coordinator_;
  std::vector<std::pair<std::string, int>> refused_;
  std::unique_ptr<HeaderAuth> auth_ = nullptr;
  void MakeAuth() {
    auth_ = std::make_unique<HeaderAuth>(*coordinator_, [this](const std::string& m, int code) {
      refused_.emplace_back(m, code);
    });
  }
};

TEST_F(HeaderAuthTest, ValidTokensOfTheServicesRolesPass) {
  MakeAuth();
  ASSERT_OK_AND_ASSIGN(std::string client, coordinator_->CreateToken("client", "c", {}));
  ASSERT_OK_AND_ASSIGN(std::string worker, coordinator_->CreateToken("worker", "w", {}));
  ASSERT_OK_AND_ASSIGN(std::string admin, coordinator_->CreateToken("admin", "a", {}));
  EXPECT_TRUE(Call("/cohort.v1.Coordinator/SubmitCampaign", "Bearer " + client).ok());
  EXPECT_TRUE(Call("/cohort.v1.WorkerGateway/Lease", "Bearer " + worker).ok());
  EXPECT_TRUE(Call("/cohort.v1.Coordinator/SubmitCampaign", "Bearer " + admin).ok());
  EXPECT_TRUE(Call("/cohort.v1.WorkerGateway/Lease", "Bearer " + admin).ok());
  EXPECT_TRUE(Call("/grpc.health.v1.Health/Check", "").ok());
  EXPECT_TRUE(refused_.empty());
}

TEST_F(HeaderAuthTest, UnknownExpiredAndWrongRoleTokensAreRefusedAndCounted) {
  MakeAuth();
  ASSERT_OK_AND_ASSIGN(std::string worker, coordinator_->CreateToken("worker", "w", {}));
  ASSERT_OK_AND_ASSIGN(std::string brief,
                       coordinator_->CreateToken("client", "brief", absl::Minutes(1)));
  const std::string submit = "/cohort.v1.Coordinator/SubmitCampaign";
  grpc::Status missing = Call(submit, "");
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(missing.error_message(), HasSubstr("missing bearer token"));
  EXPECT_EQ(Call(submit, "Bearer nope").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(Call(submit, "Bearer " + brief).ok());
  clock_.Advance(absl::Minutes(2));
  grpc::Status expired = Call(submit, "Bearer " + brief);
  EXPECT_EQ(expired.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(expired.error_message(), HasSubstr("expired"));
  grpc::Status role = Call(submit, "Bearer " + worker);
  EXPECT_EQ(role.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(role.error_message(), HasSubstr("a worker token may not call " + submit));
  EXPECT_EQ(Call("/cohort.v1.Nothing/Here", "").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(refused_,
              ElementsAre(Pair(submit, 16), Pair(submit, 16), Pair(submit, 16),
                          Pair(submit, 7), Pair("/cohort.v1.Nothing/Here", 16)));
}

}  // namespace
}  // namespace cohort::server
