#include "server/jobgraph/matching.h"

#include "gtest/gtest.h"

namespace cohort::server {
namespace {

TEST(MatchingTest, GpuDiskLabelsAndTools) {
  Requirements bench;
  bench.gpus = 1;
  bench.gpu_memory_bytes = 40ull << 30;
  bench.tools = {"llama-server"};
  WorkerCapacity h100{"w1", 1, 1, 80ull << 30, 1ull << 40, 0, {"gpu"}, {"llama-server"}};
  EXPECT_TRUE(Matches(bench, h100));
  WorkerCapacity small = h100;
  small.gpu_memory_bytes = 24ull << 30;
  EXPECT_FALSE(Matches(bench, small));
  WorkerCapacity busy = h100;
  busy.free_gpus = 0;
  EXPECT_FALSE(Matches(bench, busy));
  WorkerCapacity no_tool = h100;
  no_tool.tools = {};
  EXPECT_FALSE(Matches(bench, no_tool));
  WorkerCapacity no_slot = h100;
  no_slot.free_slots = 0;
  EXPECT_FALSE(Matches(bench, no_slot));

  Requirements prune;
  prune.disk_bytes = 60ull << 30;
  prune.labels = {"nvme"};
  WorkerCapacity cpu{"w2", 2, 0, 0, 100ull << 30, 0, {"nvme"}, {}};
  EXPECT_TRUE(Matches(prune, cpu));
  cpu.free_disk_bytes = 10ull << 30;
  EXPECT_FALSE(Matches(prune, cpu));
}

TEST(MatchingTest, BackoffDoublesAndCaps) {
  EXPECT_EQ(RetryBackoff(1), absl::Seconds(5));
  EXPECT_EQ(RetryBackoff(2), absl::Seconds(10));
  EXPECT_EQ(RetryBackoff(3), absl::Seconds(20));
  EXPECT_EQ(InputWaitBackoff(1), absl::Seconds(1));
  EXPECT_EQ(InputWaitBackoff(3), absl::Seconds(4));
  EXPECT_EQ(InputWaitBackoff(kMaxInputWaits), absl::Seconds(30));
  EXPECT_EQ(RetryBackoff(30), absl::Minutes(5));
}

}  // namespace
}  // namespace cohort::server
