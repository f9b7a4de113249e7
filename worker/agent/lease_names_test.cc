// A lease's names that would become paths on the worker are refused before
// the agent pins, fetches or opens anything.
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/agent/agent.h"

namespace cohort::worker {
namespace {

using ::cohort::testing::StatusIs;
using ::testing::HasSubstr;

v1::Lease LeaseWith(const std::string& input_name, const std::string& shared_path) {
  v1::Lease lease;
  lease.mutable_step()->set_key("sha256:" + std::string(64, 'a'));
  v1::StepInput* input = lease.mutable_step()->add_inputs();
  input->set_name(input_name);
  input->set_digest("sha256:" + std::string(64, 'b'));
  v1::Artifact* artifact = lease.add_inputs();
  artifact->set_digest(input->digest());
  artifact->add_locations()->set_shared_path(shared_path);
  return lease;
}

TEST(LeaseNamesTest, AcceptsPlainNamesAndAbsoluteSharedPaths) {
  EXPECT_OK(CheckLeaseNames(LeaseWith("checkpoint", "/srv/models/base")));
}

TEST(LeaseNamesTest, RefusesTraversalInInputNames) {
  for (const std::string& name : {std::string("../x"), std::string("/etc/passwd"),
                                  std::string("a/../../b"), std::string("a\0b", 3),
                                  std::string()}) {
    EXPECT_THAT(CheckLeaseNames(LeaseWith(name, "/srv/models/base")),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("input name")))
        << name;
  }
}

TEST(LeaseNamesTest, RefusesSharedPathsThatAreRelativeOrClimb) {
  EXPECT_THAT(CheckLeaseNames(LeaseWith("checkpoint", "../x")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not absolute")));
  EXPECT_THAT(CheckLeaseNames(LeaseWith("checkpoint", "/srv/../etc/passwd")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'..'")));
  EXPECT_THAT(CheckLeaseNames(LeaseWith("checkpoint", std::string("/srv/a\0", 7))),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("NUL")));
}

}  // namespace
}  // namespace cohort::worker
