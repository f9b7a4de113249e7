#include "worker/prune/dropmap_summary.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace cohort::worker::prune {
namespace {

// np.min / np.max of a row: NaN propagates.
double RowExtreme(const double* row, int n, bool want_max) {
  double m = row[0];
  for (int e = 1; e < n; ++e) {
    const double x = row[e];
    const bool keep = want_max ? (m >= x) : (m <= x);
    if (!(keep || std::isnan(m))) m = x;
  }
  return m;
}

PyValue LayerStats(const SummaryInputs& in, int l, std::vector<int64_t>* overlaps) {
  const std::set<int64_t> dropped((*in.drop)[l].begin(), (*in.drop)[l].end());
  const double* row = in.agg->Row(l);
  const int n = in.agg->experts;
  PyValue stats = PyValue::Object();
  stats.Set("n_dropped", PyValue::Int(static_cast<int64_t>(dropped.size())));
  stats.Set("agg_min", PyValue::Float(RowExtreme(row, n, false)));
  stats.Set("agg_max", PyValue::Float(RowExtreme(row, n, true)));
  stats.Set("agg_mean", PyValue::Float((0.0 + PairwiseSum(row, n)) / n));
  stats.Set("boundary_ties_within_1pct",
            PyValue::Int((*in.boundary_ties)[l]));
  if (in.baseline->has_value()) {
    const auto& baseline = **in.baseline;
    auto it = baseline.find(l);
    if (it != baseline.end()) {
      const std::set<int64_t> base(it->second.begin(), it->second.end());
      int64_t overlap = 0;
      std::vector<int64_t> only_v5;
      for (int64_t e : dropped) {
        if (base.count(e)) {
          ++overlap;
        } else {
          only_v5.push_back(e);
        }
      }
      stats.Set("overlap_vs_baseline", PyValue::Int(overlap));
      stats.Set("non_overlap_only_in_v5", PyValue::IntList(only_v5));
      overlaps->push_back(overlap);
    }
  }
  return stats;
}

}  // namespace

PyValue DropMapValue(const std::vector<std::vector<int64_t>>& drop) {
  PyValue out = PyValue::Object();
  for (size_t l = 0; l < drop.size(); ++l) {
    out.Set(std::to_string(l), PyValue::IntList(drop[l]));
  }
  return out;
}

PyValue SummaryValue(const SummaryInputs& in) {
  PyValue summary = PyValue::Object();
  summary.Set("args", DropMapArgsValue(*in.options));
  summary.Set("classes_used", PyValue::StringList(*in.classes));
  summary.Set("weights_used", PyValue::FloatList(*in.weights));
  summary.Set("metadata", *in.metadata);
  PyValue per_layer = PyValue::Object();
  std::vector<int64_t> overlaps;
  for (int l = 0; l < in.agg->layers; ++l) {
    per_layer.Set(std::to_string(l), LayerStats(in, l, &overlaps));
  }
  summary.Set("per_layer", std::move(per_layer));
  if (!overlaps.empty()) {
    int64_t sum = 0;
    for (int64_t o : overlaps) sum += o;
    PyValue overlap = PyValue::Object();
    overlap.Set("mean_overlap_per_layer",
                PyValue::Float(static_cast<double>(sum) /
                               static_cast<double>(overlaps.size())));
    overlap.Set("min", PyValue::Int(*std::min_element(overlaps.begin(),
                                                      overlaps.end())));
    overlap.Set("max", PyValue::Int(*std::max_element(overlaps.begin(),
                                                      overlaps.end())));
    overlap.Set("n_drop", PyValue::Int(in.n_drop));
    summary.Set("overlap_summary", std::move(overlap));
  }
  return summary;
}

}  // namespace cohort::worker::prune
