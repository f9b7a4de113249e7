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

}  // namespace
}  // namespace cohort::worker
