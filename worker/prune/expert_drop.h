// File: expert_drop.h
//
// `cohort-worker prune`: expert drop as expert_drop.py does it (spec
// docs/pruning.md §3), for every layout of layout.h, optionally fused with the
// shared-expert upweight (upweight.h) in the same pass over the input.
//
// Output folder (built under a temporary name, renamed into place only when
// complete; kAlreadyExists if it exists and !overwrite):
//   model-0000k-of-0000N.safetensors  no __metadata__, reference layout
//   model.safetensors.index.json      total_size + weight_map (processing
//                                     order), indent=2
//   config.json                       expert count keys set to the kept
//                                     count, re-dumped indent=2
//   every other file and folder of the source, byte for byte (links
//   followed): tokenizer.json / tokenizer.model / vocab.json + merges.txt,
//   templates, READMEs, licenses, subfolders. Not carried: *.safetensors,
//   the index, and *.pre_shared_upweight backups. The reference copies a
//   fixed list instead and so lost tokenizer.model, which llama.cpp's
//   converter needs (a deliberate difference, docs/pruning.md).
//   expert_drop_metadata.json         base_model, method, drop_map_file
//                                     (absolute), counts, per-layer keep/drop
//   .shared_applied                   fused upweight only
// Input bytes are streamed (copy_file_range, or mapped pages released as
// they are consumed): memory use does not grow with the model.
#ifndef COHORT_WORKER_PRUNE_EXPERT_DROP_H_
#define COHORT_WORKER_PRUNE_EXPERT_DROP_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "worker/prune/expert_drop_plan.h"

namespace cohort::worker::prune {

struct FusedUpweight {
  double alpha = 0;
  std::string target;
};

struct PruneOptions {
  std::string source_dir;
  std::string drop_map;
  // Empty: <source parent>/gemma-4-A4B-<kept>e<suffix> (gemma4, as the
  // reference) or <source parent>/<source name>-<kept>e<suffix>.
  std::string output_dir;
  std::string suffix;
  std::string layout;  // empty: detect from config.json
  uint64_t max_shard_bytes = kDefaultMaxShardBytes;
  bool even_group_drop = false;
  bool overwrite = false;
  std::optional<FusedUpweight> upweight;
};

struct PruneResult {
  std::string layout;
  std::string output_dir;
  int original_experts = 0;
  int target_experts = 0;
  int shards = 0;
  uint64_t total_size = 0;
  int sliced_tensors = 0;
  int upweighted_tensors = 0;
};

// Runs the drop. Errors: those of PlanExpertDrop, ReadModelIndex and the
// shard reader (kInvalidArgument / kNotFound, naming file and tensor);
// kAlreadyExists for an existing output; kResourceExhausted for a full
// disk. On any error nothing is left under output_dir.
absl::StatusOr<PruneResult> PruneCheckpoint(const PruneOptions& options);

}  // namespace cohort::worker::prune

#endif  // COHORT_WORKER_PRUNE_EXPERT_DROP_H_
