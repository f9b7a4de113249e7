#include "worker/agent/running_steps.h"

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::worker {
namespace {

v1::Lease LeaseOf(const std::string& id, uint32_t gpus = 0) {
  v1::Lease lease;
  lease.set_lease_id(id);
  lease.set_epoch(1);
  lease.mutable_step()->set_key("sha256:x");
  lease.mutable_step()->mutable_requirements()->set_gpus(gpus);
  return lease;
}

TEST(RunningStepsTest, AFinishedStepFreesItsSlotAndGpusAndWakesTheLeaseLoop) {
  RunningSteps steps(/*gpus=*/2);
  absl::Notification release;
  RunningSteps::Step* step = steps.Launch(LeaseOf("l-1", 2), [&](RunningSteps::Step* s) {
    release.WaitForNotification();
    steps.Finish(s);
  });
  ASSERT_NE(step, nullptr);
  EXPECT_EQ(step->gpus, (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(steps.FreeGpus(), 0u);
  EXPECT_EQ(steps.Unfinished(), 1u);
  std::thread waiter([&] { EXPECT_TRUE(steps.WaitForFreeSlot(1)); });
  release.Notify();
  waiter.join();
  EXPECT_EQ(steps.FreeGpus(), 2u);
  steps.Reap();
  EXPECT_FALSE(steps.Holds("l-1"));
}

TEST(RunningStepsTest, AStepAskingForMoreGpusThanAreFreeGetsNone) {
  RunningSteps steps(1);
  absl::Notification release;
  auto wait = [&](RunningSteps::Step* s) {
    release.WaitForNotification();
    steps.Finish(s);
  };
  RunningSteps::Step* first = steps.Launch(LeaseOf("l-1", 1), wait);
  RunningSteps::Step* second = steps.Launch(LeaseOf("l-2", 1), wait);
  EXPECT_EQ(first->gpus.size(), 1u);
  EXPECT_TRUE(second->gpus.empty()) << "two steps on one card";
  release.Notify();
}

TEST(RunningStepsTest, ALeaseGrantedTwiceRunsOnce) {
  RunningSteps steps(0);
  absl::Notification release;
  auto wait = [&](RunningSteps::Step* s) {
    release.WaitForNotification();
    steps.Finish(s);
  };
  ASSERT_NE(steps.Launch(LeaseOf("l-1"), wait), nullptr);
  EXPECT_EQ(steps.Launch(LeaseOf("l-1"), wait), nullptr);
  EXPECT_EQ(steps.Unfinished(), 1u);
  release.Notify();
}

TEST(RunningStepsTest, DrainingEndsTheWaitsOfTheLeaseLoop) {
  RunningSteps steps(0);
  absl::Notification release;
  steps.Launch(LeaseOf("l-1"), [&](RunningSteps::Step* s) {
    release.WaitForNotification();
    steps.Finish(s);
  });
  std::thread waiter([&] { EXPECT_FALSE(steps.WaitForFreeSlot(1)); });
  steps.BeginDrain();
  waiter.join();
  EXPECT_TRUE(steps.PauseUnlessDraining(absl::Hours(1)));
  EXPECT_FALSE(steps.WaitAllFinished(absl::Now() + absl::Milliseconds(50)));
  release.Notify();
  EXPECT_TRUE(steps.WaitAllFinished(absl::Now() + absl::Seconds(5)));
}

TEST(RunningStepsTest, RevokeAndCancelAllReachOnlyUnfinishedSteps) {
  RunningSteps steps(0);
  auto until_cancelled = [&](RunningSteps::Step* s) {
    while (!s->cancel.load()) absl::SleepFor(absl::Milliseconds(1));
    steps.Finish(s);
  };
  steps.Launch(LeaseOf("l-1"), until_cancelled);
  steps.Launch(LeaseOf("l-2"), until_cancelled);
  steps.Revoke({"l-1", "l-unknown"});
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (steps.Unfinished() > 1 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  ASSERT_EQ(steps.Unfinished(), 1u) << "the revoked step did not stop";
  std::vector<v1::Lease> cancelled = steps.CancelAll();
  ASSERT_EQ(cancelled.size(), 1u);
  EXPECT_EQ(cancelled[0].lease_id(), "l-2");
  EXPECT_TRUE(steps.WaitAllFinished(absl::Now() + absl::Seconds(5)));
}

}  // namespace
}  // namespace cohort::worker
