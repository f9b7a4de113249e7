// Checks that the generated code is what the services are written against:
// messages round-trip, and Debian's grpc_cpp_plugin emits the callback API.
#include <type_traits>

#include "cohort/v1/artifact.grpc.pb.h"
#include "cohort/v1/coordinator.grpc.pb.h"
#include "cohort/v1/worker.grpc.pb.h"
#include "gtest/gtest.h"

namespace cohort {
namespace {

TEST(ProtoTest, LeaseRoundTrips) {
  v1::Lease lease;
  lease.set_lease_id("l-1");
  lease.set_epoch(3);
  lease.mutable_step()->set_key("sha256:abc");
  lease.mutable_step()->set_kind(v1::STEP_KIND_PRUNE);
  std::string wire = lease.SerializeAsString();
  v1::Lease parsed;
  ASSERT_TRUE(parsed.ParseFromString(wire));
  EXPECT_EQ(parsed.epoch(), 3u);
  EXPECT_EQ(parsed.step().kind(), v1::STEP_KIND_PRUNE);
}

TEST(ProtoTest, CallbackServicesAreGenerated) {
  EXPECT_TRUE((std::is_class_v<v1::Coordinator::CallbackService>));
  EXPECT_TRUE((std::is_class_v<v1::WorkerGateway::CallbackService>));
  EXPECT_TRUE((std::is_class_v<v1::ArtifactService::CallbackService>));
}

}  // namespace
}  // namespace cohort
