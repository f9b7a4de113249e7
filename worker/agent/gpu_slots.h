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
// `devices` is what each slot stands for: the entries of the worker's own
// CUDA_VISIBLE_DEVICES when it was started with one (a Slurm job's cards:
// slot 0 of the task given card 3 is "3", not the machine's card 0), or
// empty for slot i = device i.
inline std::string VisibleDevices(const std::vector<uint32_t>& gpus,
                                  const std::vector<std::string>& devices = {}) {
  if (devices.empty()) return absl::StrJoin(gpus, ",");
  std::vector<std::string> named;
  for (uint32_t i : gpus) named.push_back(i < devices.size() ? devices[i] : std::to_string(i));
  return absl::StrJoin(named, ",");
}

// The entries of a CUDA_VISIBLE_DEVICES value ("3,5" -> {"3", "5"};
// UUIDs and MIG names are kept as written).
inline std::vector<std::string> CudaDeviceList(const std::string& value) {
  std::vector<std::string> devices;
  size_t start = 0;
  while (start <= value.size()) {
    size_t comma = value.find(',', start);
    if (comma == std::string::npos) comma = value.size();
    std::string entry = value.substr(start, comma - start);
    if (!entry.empty()) devices.push_back(entry);
    start = comma + 1;
  }
  return devices;
}

}  // namespace cohort::worker

#endif  // COHORT_WORKER_AGENT_GPU_SLOTS_H_
