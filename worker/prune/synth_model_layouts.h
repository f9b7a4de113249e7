// File: synth_model_layouts.h
//
// Internal to synth_model.cc: per-layout tensor lists and config.json of a
// synthetic checkpoint (names and shapes as the real checkpoints have them,
// docs/pruning.md §3.2, §3.3).
#ifndef COHORT_WORKER_PRUNE_SYNTH_MODEL_LAYOUTS_H_
#define COHORT_WORKER_PRUNE_SYNTH_MODEL_LAYOUTS_H_

#include <vector>

#include "absl/status/statusor.h"
#include "worker/prune/safetensors_index.h"
#include "worker/prune/synth_model.h"

namespace cohort::worker::prune {

struct SynthLayout {
  std::vector<SynthTensor> tensors;
  std::vector<int> moe_layers;
  OrderedJson config;
};

absl::StatusOr<SynthLayout> BuildSynthLayout(const SynthOptions& options);

}  // namespace cohort::worker::prune

#endif  // COHORT_WORKER_PRUNE_SYNTH_MODEL_LAYOUTS_H_
