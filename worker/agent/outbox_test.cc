#include "worker/agent/outbox.h"

#include <memory>

#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_gateway.h"

namespace cohort::worker {
namespace {

using ::cohort::testing::FakeGateway;

v1::Lease LeaseOf(const std::string& id) {
  v1::Lease lease;
  lease.set_lease_id(id);
  lease.set_epoch(1);
  return lease;
}

std::string Completion(const std::string& lease_id) {
  v1::CompleteStepRequest request;
  request.set_lease_id(lease_id);
  return request.SerializeAsString();
}

class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK_AND_ASSIGN(spool_, Spool::Open(dir_.Join("spool.db"))); }
  cohort::testing::TempDir dir_;
  std::unique_ptr<Spool> spool_;
  FakeGateway gateway_;
};

TEST_F(OutboxTest, AnAppendIsShippedAtOnceWithoutPolling) {
  Outbox outbox(*spool_, gateway_, /*retry_pause=*/absl::Hours(1));
  outbox.Start();
  ASSERT_TRUE(outbox.Flush(absl::Now() + absl::Seconds(5)));  // empty to begin with
  outbox.Append(SpoolKind::kComplete, LeaseOf("l-1"), Completion("l-1"), "the completion");
  // The shipper sleeps on a condition: only the Append can have woken it.
  ASSERT_TRUE(outbox.Flush(absl::Now() + absl::Seconds(5)));
  EXPECT_TRUE(gateway_.Completed("l-1"));
  EXPECT_EQ(spool_->Count().value(), 0);
}

TEST_F(OutboxTest, AFailedSendIsRetriedAfterThePauseInOrder) {
  gateway_.FailShipping(absl::UnavailableError("down"), 3);
  Outbox outbox(*spool_, gateway_, absl::Milliseconds(50));
  outbox.Append(SpoolKind::kFail, LeaseOf("l-1"), [] {
    v1::FailStepRequest r;
    r.set_lease_id("l-1");
    return r.SerializeAsString();
  }(), "the failure");
  outbox.Append(SpoolKind::kComplete, LeaseOf("l-2"), Completion("l-2"), "the completion");
  outbox.Start();
  ASSERT_TRUE(outbox.Flush(absl::Now() + absl::Seconds(5)));
  std::vector<FakeGateway::Shipped> shipped = gateway_.shipped();
  ASSERT_EQ(shipped.size(), 2u);
  EXPECT_EQ(shipped[0].lease_id, "l-1");
  EXPECT_EQ(shipped[1].lease_id, "l-2");
  EXPECT_EQ(gateway_.ship_calls(), 5);
}

TEST_F(OutboxTest, MessagesOfASupersededLeaseAreDroppedNotRetried) {
  gateway_.Supersede("l-old");
  Outbox outbox(*spool_, gateway_, absl::Milliseconds(50));
  v1::ReportResultsRequest batch;
  batch.set_lease_id("l-old");
  outbox.Append(SpoolKind::kResults, LeaseOf("l-old"), batch.SerializeAsString(), "results");
  outbox.Append(SpoolKind::kComplete, LeaseOf("l-old"), Completion("l-old"), "the completion");
  outbox.Append(SpoolKind::kComplete, LeaseOf("l-new"), Completion("l-new"), "the completion");
  outbox.Start();
  ASSERT_TRUE(outbox.Flush(absl::Now() + absl::Seconds(5)));
  EXPECT_FALSE(gateway_.Completed("l-old"));
  EXPECT_TRUE(gateway_.Completed("l-new"));
  EXPECT_EQ(gateway_.ship_calls(), 2) << "a refused lease's other messages were still sent";
  EXPECT_EQ(spool_->Count().value(), 0);
}

// A spool row that no longer parses (a damaged disk): sending what part of
// it parses could complete the step without its results, so the lease's
// messages are dropped (cohortd reruns the step when the lease lapses) and
// the others still go.
TEST_F(OutboxTest, ADamagedSpoolRowDropsItsLeaseNotTheOthers) {
  Outbox outbox(*spool_, gateway_, absl::Milliseconds(50));
  v1::ReportResultsRequest batch;
  batch.set_lease_id("l-bad");
  std::string damaged = batch.SerializeAsString() + "\xff\xff\xff";
  outbox.Append(SpoolKind::kResults, LeaseOf("l-bad"), damaged, "results");
  outbox.Append(SpoolKind::kComplete, LeaseOf("l-bad"), Completion("l-bad"), "the completion");
  outbox.Append(SpoolKind::kComplete, LeaseOf("l-ok"), Completion("l-ok"), "the completion");
  outbox.Start();
  ASSERT_TRUE(outbox.Flush(absl::Now() + absl::Seconds(5)));
  EXPECT_FALSE(gateway_.Completed("l-bad"));
  EXPECT_TRUE(gateway_.Completed("l-ok"));
  EXPECT_EQ(gateway_.ship_calls(), 1);
  EXPECT_EQ(spool_->Count().value(), 0);
}

TEST_F(OutboxTest, FlushGivesUpAtItsDeadlineWhileCohortdIsDown) {
  gateway_.FailShipping(absl::UnavailableError("down"), 1 << 30);
  Outbox outbox(*spool_, gateway_, absl::Milliseconds(20));
  outbox.Start();
  outbox.Append(SpoolKind::kComplete, LeaseOf("l-1"), Completion("l-1"), "the completion");
  const absl::Time began = absl::Now();
  EXPECT_FALSE(outbox.Flush(began + absl::Milliseconds(300)));
  EXPECT_GE(absl::Now() - began, absl::Milliseconds(290));
  outbox.Stop();
  EXPECT_EQ(spool_->Count().value(), 1) << "an unshipped message left the spool";
}

}  // namespace
}  // namespace cohort::worker
