// File: gpu_slots.h
//
// Which of a worker's GPUs each running step holds. cohortd grants a lease
// when the worker has enough free GPUs; the worker then gives the step
// concrete devices (CUDA_VISIBLE_DEVICES), so two steps on a multi-GPU
// machine never share a card, the way a batch scheduler's GPU allocation
// works. Steps that asked for none see none.
//
// Not thread-safe: the agent calls it under its mutex.
#ifndef COHORT_WORKER_AGENT_GPU_SLOTS_H_
#define COHORT_WORKER_AGENT_GPU_SLOTS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"

namespace cohort::worker {

class GpuSlots {
 public:
  explicit GpuSlots(uint32_t count) : busy_(count, false) {}

  // The `n` lowest free device indices, now held; nullopt (nothing held)
  // when fewer than `n` are free.
  std::optional<std::vector<uint32_t>> Acquire(uint32_t n) {
    std::vector<uint32_t> got;
    for (uint32_t i = 0; i < busy_.size() && got.size() < n; ++i) {
      if (!busy_[i]) got.push_back(i);
    }
    if (got.size() < n) return std::nullopt;
    for (uint32_t i : got) busy_[i] = true;
    return got;
  }

  void Release(const std::vector<uint32_t>& gpus) {
    for (uint32_t i : gpus) {
      if (i < busy_.size()) busy_[i] = false;
    }
  }

  uint32_t free() const {
    uint32_t n = 0;
    for (bool b : busy_) n += b ? 0 : 1;
    return n;
  }

  uint32_t count() const { return static_cast<uint32_t>(busy_.size()); }

 private:
  std::vector<bool> busy_;
};

// "0,2": the CUDA_VISIBLE_DEVICES value for `gpus` ("" hides every GPU).
inline std::string VisibleDevices(const std::vector<uint32_t>& gpus) {
  return absl::StrJoin(gpus, ",");
}

}  // namespace cohort::worker

#endif  // COHORT_WORKER_AGENT_GPU_SLOTS_H_
