// File: dropmap_score.h
//
// Steps 1-7 of the drop-map algorithm (docs/pruning.md §2): base scores,
// outlier handling, per-row normalization, weighted aggregation over classes,
// the breadth bonus and the v4 pooled score. Every function follows numpy's
// operation order (sequential sums over the class axis starting from 0.0,
// pairwise sums along a row, NaN-propagating max) so results are equal to the
// reference to the last bit.
//
// Pure functions; no I/O. Immutable inputs, thread-compatible.
#ifndef COHORT_WORKER_PRUNE_DROPMAP_SCORE_H_
#define COHORT_WORKER_PRUNE_DROPMAP_SCORE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "worker/prune/contrib_reader.h"

namespace cohort::worker::prune {

// Row-major float64 arrays: [classes][layers][experts] and [layers][experts].
struct ClassScores {
  int classes = 0;
  int layers = 0;
  int experts = 0;
  std::vector<double> v;
  double* Row(int c, int l) {
    return v.data() + (static_cast<size_t>(c) * layers + l) * experts;
  }
  const double* Row(int c, int l) const {
    return v.data() + (static_cast<size_t>(c) * layers + l) * experts;
  }
};

struct LayerScores {
  int layers = 0;
  int experts = 0;
  std::vector<double> v;
  double* Row(int l) { return v.data() + static_cast<size_t>(l) * experts; }
  const double* Row(int l) const {
    return v.data() + static_cast<size_t>(l) * experts;
  }
};

struct ScoreParams {
  double alpha = 2.0;
  bool score_mode_mean = false;  // --score-mode mean: wnorm*alpha only
  double outlier_thresh = 0.0;
  std::string outlier_mode = "keep";
};

// Steps 1-2: s = wnorm*alpha (+ tc), then bad cells per `params`.
ClassScores BaseScores(const ContribGrid& grid, const ScoreParams& params);
// Step 3: "rank" or "mean".
ClassScores Normalize(const ClassScores& s, const std::string& mode);
// Step 5: one of StrategyChoices() (not "same").
LayerScores Aggregate(const ClassScores& s_norm,
                      const std::vector<double>& weights,
                      const std::string& strategy);
// Step 6: agg += bonus * mean over all classes of s_norm.
void AddBreadthBonus(const ClassScores& s_norm, double bonus,
                     LayerScores* agg);
// Step 7: max over v4 classes of the outlier-handled base score.
LayerScores V4Pooled(const ContribGrid& v4, const ScoreParams& params);
// Step 10: per (layer, expert) the index of the v4 class with the highest raw
// base score (numpy argmax: first maximum, first NaN wins).
std::vector<int> V4BestClass(const ContribGrid& v4, const ScoreParams& params);

// numpy's pairwise summation of n values (the add.reduce inner loop).
double PairwiseSum(const double* a, size_t n);
// np.argsort(row, kind="stable") (descending=false) or of -row (true); NaN
// sorts last either way.
std::vector<int64_t> StableArgsort(const double* row, int n, bool descending);

}  // namespace cohort::worker::prune

#endif  // COHORT_WORKER_PRUNE_DROPMAP_SCORE_H_
