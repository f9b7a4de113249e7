// File: inspect.h
//
// `cohort-worker inspect DIR`: the MoE structure of a checkpoint, read from
// config.json, the index and the shard headers only (no tensor bytes), so a
// pruned model is checked before a GPU is spent on it.
//
// Reports the layout, layers, experts per MoE layer (router rows, stacked
// dim 0, or per-expert tensor count), shared experts, dtypes and bytes, and
// every inconsistency found: config expert count != tensors, expert counts
// differing between layers, per-expert ids not dense 0..K-1, top-k above
// the expert count, index and shard contents disagreeing, total_size wrong.
#ifndef COHORT_WORKER_PRUNE_INSPECT_H_
#define COHORT_WORKER_PRUNE_INSPECT_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "worker/prune/safetensors_index.h"

namespace cohort::worker::prune {

struct InspectLayer {
  int layer = 0;
  int experts = -1;  // -1: unknown
  bool shared_expert = false;
  uint64_t expert_bytes = 0;
};

struct DtypeTotal {
  int tensors = 0;
  uint64_t bytes = 0;
};

struct InspectReport {
  std::string dir;
  std::string layout;
  int num_layers = 0;
  int config_experts = -1;
  int top_k = -1;
  int shards = 0;
  int tensors = 0;
  uint64_t total_bytes = 0;
  std::vector<InspectLayer> moe_layers;
  std::map<std::string, DtypeTotal> dtypes;
  std::vector<std::string> problems;
};

// Fails (kNotFound / kInvalidArgument) only when the checkpoint cannot be
// read at all; inconsistencies go to `problems`. `layout` empty: detect.
absl::StatusOr<InspectReport> InspectCheckpoint(const std::string& dir,
                                                const std::string& layout);

std::string FormatInspectText(const InspectReport& report);
OrderedJson InspectJson(const InspectReport& report);

}  // namespace cohort::worker::prune

#endif  // COHORT_WORKER_PRUNE_INSPECT_H_
