#include "worker/agent/gpu_slots.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::worker {
namespace {

using ::testing::ElementsAre;

TEST(GpuSlotsTest, StepsGetDistinctCardsAndGiveThemBack) {
  GpuSlots slots(3);
  std::optional<std::vector<uint32_t>> a = slots.Acquire(1);
  std::optional<std::vector<uint32_t>> b = slots.Acquire(2);
  ASSERT_TRUE(a.has_value());
  ASSERT_TRUE(b.has_value());
  EXPECT_THAT(*a, ElementsAre(0u));
  EXPECT_THAT(*b, ElementsAre(1u, 2u));
  EXPECT_EQ(slots.free(), 0u);
  EXPECT_FALSE(slots.Acquire(1).has_value());  // nothing held on failure
  slots.Release(*a);
  EXPECT_EQ(slots.free(), 1u);
  EXPECT_THAT(slots.Acquire(1).value(), ElementsAre(0u));
  EXPECT_EQ(VisibleDevices(*b), "1,2");
  EXPECT_EQ(VisibleDevices({}), "");
}

TEST(GpuSlotsTest, AskingForMoreThanFreeHoldsNothing) {
  GpuSlots slots(2);
  ASSERT_TRUE(slots.Acquire(1).has_value());
  EXPECT_FALSE(slots.Acquire(2).has_value());
  EXPECT_EQ(slots.free(), 1u);
  EXPECT_TRUE(slots.Acquire(0).value().empty());
  slots.Release({7});  // an index the worker does not have is ignored
  EXPECT_EQ(slots.free(), 1u);
}

// A worker started inside a Slurm job that was given cards 3 and 5: its
// slots 0 and 1 are those cards, so a step never lands on another job's.
TEST(GpuSlotsTest, SlotsStandForTheCardsTheWorkerWasGiven) {
  const std::vector<std::string> job = CudaDeviceList("3,5");
  EXPECT_EQ(job, (std::vector<std::string>{"3", "5"}));
  EXPECT_EQ(VisibleDevices({0}, job), "3");
  EXPECT_EQ(VisibleDevices({1}, job), "5");
  EXPECT_EQ(VisibleDevices({0, 1}, job), "3,5");
  EXPECT_EQ(VisibleDevices({}, job), "");
  // Not started on a subset: slot i is device i.
  EXPECT_EQ(VisibleDevices({0, 2}), "0,2");
  // UUIDs and MIG names stay as written; empty entries are dropped.
  EXPECT_EQ(CudaDeviceList("GPU-8a1f,,MIG-2"), (std::vector<std::string>{"GPU-8a1f", "MIG-2"}));
  EXPECT_TRUE(CudaDeviceList("").empty());
}

}  // namespace
}  // namespace cohort::worker
