#include "worker/sandbox/pool.h"

#include <atomic>
#include <vector>

#include "gtest/gtest.h"

namespace cohort::worker::sandbox {
namespace {

TEST(PoolTest, RunsEveryIndexOnce) {
  for (int workers : {1, 3, 16}) {
    std::vector<std::atomic<int>> hits(100);
    ParallelFor(hits.size(), workers, [&](size_t i) { hits[i]++; });
    for (auto& h : hits) EXPECT_EQ(h.load(), 1);
  }
  ParallelFor(0, 4, [](size_t) { FAIL(); });
  EXPECT_GE(DefaultWorkers(), 1);
}

}  // namespace
}  // namespace cohort::worker::sandbox
