// File: matching.h
//
// Pure scheduling decisions: does a worker's free capacity satisfy a step's
// requirements, and how long to back off before retrying a failed step.
#ifndef COHORT_SERVER_JOBGRAPH_MATCHING_H_
#define COHORT_SERVER_JOBGRAPH_MATCHING_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "server/jobgraph/step.h"

namespace cohort::server {

// What a worker can take on right now.
struct WorkerCapacity {
  std::string worker_id;
  uint32_t free_slots = 1;
  uint32_t free_gpus = 0;
  uint64_t gpu_memory_bytes = 0;  // per GPU (the smallest free one)
  uint64_t free_disk_bytes = 0;
  uint64_t memory_bytes = 0;
  std::vector<std::string> labels;
  std::vector<std::string> tools;
};

// True if `worker` can run a step needing `req` now. A requirement of 0
// means "no requirement" for every numeric field.
bool Matches(const Requirements& req, const WorkerCapacity& worker);

// Exponential backoff after `attempts` failed attempts: 5 s, 10 s, 20 s, ...
// capped at 5 minutes.
absl::Duration RetryBackoff(uint32_t attempts);

// After the `waits`-th time a step was handed back because an input could
// not be fetched: 1 s, 2 s, 4 s, ... capped at 30 s. Twelve waits span about
// 4 minutes, long enough for the input's holder to restart.
inline constexpr int kMaxInputWaits = 12;
absl::Duration InputWaitBackoff(int waits);

}  // namespace cohort::server

#endif  // COHORT_SERVER_JOBGRAPH_MATCHING_H_
