#include "worker/sandbox/pool.h"

#include <atomic>
#include <cstdlib>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"

namespace cohort::worker::sandbox {

int DefaultWorkers() {
  const char* env = std::getenv("COHORT_SANDBOX_WORKERS");
  int n = 0;
  if (env != nullptr && absl::SimpleAtoi(env, &n) && n > 0) return n;
  return std::max(1u, std::thread::hardware_concurrency());
}

void ParallelFor(size_t n, int workers, const std::function<void(size_t)>& fn) {
  size_t threads = std::min<size_t>(n, static_cast<size_t>(std::max(1, workers)));
  if (threads <= 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  for (size_t t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (size_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) fn(i);
    });
  }
  for (std::thread& th : pool) th.join();
}

}  // namespace cohort::worker::sandbox
