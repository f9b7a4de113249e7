// File: dropmap_summary.h
//
// The generator's two output documents (docs/pruning.md §2 step 11): the drop
// map {"<layer>": [ids]} and the summary sidecar (args, classes, weights,
// metadata, per-layer statistics, overlap with a baseline drop map).
#ifndef COHORT_WORKER_PRUNE_DROPMAP_SUMMARY_H_
#define COHORT_WORKER_PRUNE_DROPMAP_SUMMARY_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "worker/prune/dropmap_options.h"
#include "worker/prune/dropmap_score.h"
#include "worker/prune/pyjson_value.h"

namespace cohort::worker::prune {

struct SummaryInputs {
  const DropMapOptions* options = nullptr;
  const std::vector<std::string>* classes = nullptr;
  const std::vector<double>* weights = nullptr;
  const PyValue* metadata = nullptr;
  const LayerScores* agg = nullptr;
  const std::vector<std::vector<int64_t>>* drop = nullptr;
  const std::vector<int64_t>* boundary_ties = nullptr;
  // Absent when no baseline file was read.
  const std::optional<std::map<int64_t, std::vector<int64_t>>>* baseline =
      nullptr;
  int64_t n_drop = 0;
};

PyValue DropMapValue(const std::vector<std::vector<int64_t>>& drop);
PyValue SummaryValue(const SummaryInputs& in);

}  // namespace cohort::worker::prune

#endif  // COHORT_WORKER_PRUNE_DROPMAP_SUMMARY_H_
