#include "server/jobgraph/matching.h"

#include <algorithm>

namespace cohort::server {
namespace {

bool ContainsAll(const std::vector<std::string>& have,
                 const std::vector<std::string>& need) {
  return std::all_of(need.begin(), need.end(), [&](const std::string& n) {
    return std::find(have.begin(), have.end(), n) != have.end();
  });
}

}  // namespace

bool Matches(const Requirements& req, const WorkerCapacity& worker) {
  if (worker.free_slots == 0) return false;
  if (req.gpus > worker.free_gpus) return false;
  if (req.gpus > 0 && req.gpu_memory_bytes > worker.gpu_memory_bytes) return false;
  if (req.disk_bytes > worker.free_disk_bytes) return false;
  if (req.memory_bytes > 0 && req.memory_bytes > worker.memory_bytes) return false;
  return ContainsAll(worker.labels, req.labels) &&
         ContainsAll(worker.tools, req.tools);
}

absl::Duration RetryBackoff(uint32_t attempts) {
  absl::Duration delay = absl::Seconds(5);
  for (uint32_t i = 1; i < attempts && delay < absl::Minutes(5); ++i) delay *= 2;
  return std::min(delay, absl::Minutes(5));
}

absl::Duration InputWaitBackoff(int waits) {
  absl::Duration delay = absl::Seconds(1);
  for (int i = 1; i < waits && delay < absl::Seconds(30); ++i) delay *= 2;
  return std::min(delay, absl::Seconds(30));
}

}  // namespace cohort::server
