// File: dropmap_select.h
//
// Steps 9-10 of the drop-map algorithm (docs/pruning.md §2): per-layer
// protection (protect-top, class floors, v4 floor), the overflow release in
// CPython set order, the drop selection with its boundary-tie count, and the
// optional per-v4-class minima swaps.
//
// Pure functions; no I/O. Thread-compatible.
#ifndef COHORT_WORKER_PRUNE_DROPMAP_SELECT_H_
#define COHORT_WORKER_PRUNE_DROPMAP_SELECT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "worker/prune/dropmap_score.h"

namespace cohort::worker::prune {

struct SelectionInputs {
  const LayerScores* agg = nullptr;          // drop ranking
  const LayerScores* protect_agg = nullptr;  // protect-top ranking, or agg
  const ClassScores* s_norm = nullptr;       // for class_protect_floor > 0
  const LayerScores* v4_pooled = nullptr;    // null: no v4 floor
  int64_t target = 0;                        // REQUIRES: 0 <= target <= E
  int64_t protect_top = 0;
  int64_t class_protect_floor = 0;
  std::vector<int64_t> floor_per_layer;  // used when v4_pooled is set
};

struct Selection {
  std::vector<std::vector<int64_t>> drop;  // per layer, ascending ids
  std::vector<int64_t> boundary_ties;      // per layer (0 when n_drop == 0)
  std::vector<std::string> log;            // overflow releases, for the user
};

Selection SelectDrops(const SelectionInputs& in);

// `experts` pinned per layer for the class minima: protect-top by the protect
// ranking plus the v4 floor (no class floors, no overflow release).
std::vector<std::vector<bool>> PinnedExperts(const SelectionInputs& in);

struct ClassMinimum {
  int v4_class = 0;  // index into the v4 class list
  int64_t minimum = 0;
};

// enforce_class_minima: swaps dropped experts of a short class for the
// lowest-agg unpinned kept experts of other classes, per layer. `best_class`
// is [layer * E + expert]. Drop lists stay sorted and keep their length.
void EnforceClassMinima(const LayerScores& agg,
                        const std::vector<int>& best_class, int v4_classes,
                        const std::vector<ClassMinimum>& minima,
                        const std::vector<std::vector<bool>>& pinned,
                        std::vector<std::vector<int64_t>>* drop);

// Length of Python's seq[:k] for a sequence of length n.
int64_t PySliceLen(int64_t k, int64_t n);

}  // namespace cohort::worker::prune

#endif  // COHORT_WORKER_PRUNE_DROPMAP_SELECT_H_
