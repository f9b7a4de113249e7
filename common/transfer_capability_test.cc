#include "common/transfer_capability.h"

#include "absl/time/clock.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort {
namespace {

using ::cohort::testing::StatusIs;
using ::testing::HasSubstr;

TEST(TransferCapabilityTest, OpensOneArtifactOnOneWorkerUntilItExpires) {
  const std::string secret = "cohortd secret";
  const std::string key = TransferKeyFor(secret, "wa");
  EXPECT_EQ(key, TransferKeyFor(secret, "wa"));  // derived, not stored
  EXPECT_NE(key, TransferKeyFor(secret, "wb"));
  const std::string digest = "sha256:" + std::string(64, 'a');
  const absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  std::string cap = IssueCapability(key, digest, now + absl::Hours(2));
  EXPECT_OK(CheckCapability(key, cap, digest, now));
  // Another artifact, another worker's key, after expiry, forged expiry.
  EXPECT_THAT(CheckCapability(key, cap, "sha256:" + std::string(64, 'b'), now),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("not for sha256:bbb")));
  EXPECT_THAT(CheckCapability(TransferKeyFor(secret, "wb"), cap, digest, now),
              StatusIs(absl::StatusCode::kUnauthenticated, ::testing::_));
  EXPECT_THAT(CheckCapability(key, cap, digest, now + absl::Hours(3)),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("expired at")));
  std::string later = cap;
  later.replace(0, later.find('.'), std::to_string(absl::ToUnixMicros(now + absl::Hours(9))));
  EXPECT_THAT(CheckCapability(key, later, digest, now + absl::Hours(3)),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("not for")));
  for (const char* bad : {"", "x", "12.zz", "abc.0123"}) {
    EXPECT_THAT(CheckCapability(key, bad, digest, now),
                StatusIs(absl::StatusCode::kUnauthenticated, ::testing::_))
        << bad;
  }
}

}  // namespace
}  // namespace cohort
