// File: expert_drop_plan.h
//
// Planning an expert drop (docs/pruning.md §3): read the drop map, check it
// against the layout and the config, and decide every output tensor (name,
// shape, which input rows) and which output shard it lands in — from the
// headers alone, before any tensor byte is read.
//
// Order and packing follow expert_drop.py: input shards in sorted name
// order, within a shard the index's weight_map order; greedy packing into
// shards of at most `max_shard_bytes` (a new shard starts when the next
// tensor would overflow a non-empty one).
#ifndef COHORT_WORKER_PRUNE_EXPERT_DROP_PLAN_H_
#define COHORT_WORKER_PRUNE_EXPERT_DROP_PLAN_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "worker/prune/layout.h"
#include "worker/prune/safetensors_index.h"
#include "worker/prune/safetensors_reader.h"

namespace cohort::worker::prune {

inline constexpr uint64_t kDefaultMaxShardBytes = uint64_t{5} << 30;

// A drop map: {"<layer>": [expert ids...]}.
struct ExpertDropMap {
  // Layer -> dropped ids, in the file's order (unsorted if the file is).
  std::vector<std::pair<int, std::vector<int>>> layers;
  const std::vector<int>* Find(int layer) const;
};

// kInvalidArgument (naming the file and the layer) for a non-object, a key
// that is not a layer number, the same layer twice, or ids that are not
// integers. kNotFound for a missing file.
absl::StatusOr<ExpertDropMap> ReadExpertDropMap(const std::string& path);

struct PlanOptions {
  const LayoutSpec* layout = nullptr;
  uint64_t max_shard_bytes = kDefaultMaxShardBytes;
  // DeepSeek group-limited routing: allow only drops that are even per group.
  bool even_group_drop = false;
  // Output tensors whose name ends with this are upweighted (empty: none).
  std::string upweight_target;
};

struct PlannedTensor {
  std::string out_name;
  const SafetensorsFile* file = nullptr;
  const TensorInfo* input = nullptr;
  std::vector<uint64_t> shape;  // output shape
  uint64_t nbytes = 0;          // output bytes
  std::vector<int> keep_rows;   // dim-0 rows to keep; empty = whole tensor
  uint64_t row_bytes = 0;
  bool upweight = false;
};

struct PrunePlan {
  const LayoutSpec* layout = nullptr;
  int num_layers = 0;
  int original_experts = 0;
  int target_experts = 0;
  std::map<int, std::vector<int>> keep;  // MoE layer -> sorted kept ids
  std::vector<std::vector<PlannedTensor>> shards;  // processing order
  uint64_t total_size = 0;
  int sliced_tensors = 0;
  int upweighted_tensors = 0;
};

// Opened input shards (kept alive while the plan is used).
using OpenShards = std::map<std::string, std::unique_ptr<SafetensorsFile>>;

// Opens every shard the index names (headers validated).
absl::StatusOr<OpenShards> OpenIndexShards(const std::string& dir,
                                           const ModelIndex& index);

// Builds the plan. Errors (kInvalidArgument unless said): drop map missing a
// MoE layer or naming a layer without one, ids out of range or repeated,
// uneven drop counts, nothing kept or fewer kept than top-k; a sliced
// tensor whose dim 0 is not E; an unknown tensor inside an expert block;
// group-limited routing without even per-group drops (kFailedPrecondition);
// an index entry missing from its shard.
absl::StatusOr<PrunePlan> PlanExpertDrop(const OrderedJson& config,
                                         const ModelIndex& index,
                                         const OpenShards& shards,
                                         const ExpertDropMap& drop_map,
                                         const PlanOptions& options);

// The config object holding the layout's MoE keys (top level or scope).
const OrderedJson* LayoutScope(const OrderedJson& config,
                               const LayoutSpec& layout);

}  // namespace cohort::worker::prune

#endif  // COHORT_WORKER_PRUNE_EXPERT_DROP_PLAN_H_
