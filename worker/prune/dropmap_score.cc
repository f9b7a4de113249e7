#include "worker/prune/dropmap_score.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace cohort::worker::prune {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// numpy's float ordering for sorts: NaN is greater than everything.
bool NumpyLess(double a, double b) {
  return a < b || (std::isnan(b) && !std::isnan(a));
}

// np.maximum(a, b): propagates NaN from either side.
double NumpyMax(double a, double b) {
  return (a >= b || std::isnan(a)) ? a : b;
}

double NumpyMedian(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  if (n % 2 == 1) return 0.0 + v[n / 2];
  // np.mean of the two middle values: (0 + a + b) / 2.
  return ((0.0 + v[n / 2 - 1]) + v[n / 2]) / 2.0;
}

void HandleRowOutliers(double* s, const double* wn, int n, double thresh,
                       const std::string& mode) {
  std::vector<bool> bad(n);
  bool any = false;
  for (int e = 0; e < n; ++e) {
    bad[e] = !std::isfinite(s[e]) || !std::isfinite(wn[e]) ||
             std::fabs(wn[e]) > thresh;
    any = any || bad[e];
  }
  if (!any || mode == "keep") return;
  double replacement = 0.0;
  if (mode == "drop") {
    replacement = -kInf;
  } else if (mode == "median") {
    std::vector<double> clean;
    for (int e = 0; e < n; ++e) {
      if (!bad[e]) clean.push_back(s[e]);
    }
    replacement = clean.empty() ? 0.0 : NumpyMedian(std::move(clean));
  }
  for (int e = 0; e < n; ++e) {
    if (bad[e]) s[e] = replacement;
  }
}

// Base scores for every cell; `fill` for cells the grid lacks is not needed:
// ExtractGrid guarantees every (class, layer, expert) cell was present.
ClassScores RawScores(const ContribGrid& grid, const ScoreParams& params) {
  ClassScores s;
  s.classes = grid.classes;
  s.layers = grid.layers;
  s.experts = grid.experts;
  s.v.resize(grid.wnorm.size());
  for (size_t i = 0; i < s.v.size(); ++i) {
    const double w = grid.wnorm[i];
    s.v[i] = params.score_mode_mean ? w * params.alpha
                                    : w * params.alpha + grid.tc[i];
  }
  return s;
}

// Sorted copy of the C class values of one cell, descending, NaN last
// (-np.sort(-x)).
std::vector<double> SortedDescending(const std::vector<double>& x) {
  std::vector<double> neg(x.size());
  for (size_t i = 0; i < x.size(); ++i) neg[i] = -x[i];
  std::stable_sort(neg.begin(), neg.end(), NumpyLess);
  for (double& v : neg) v = -v;
  return neg;
}

double WeightSum(const std::vector<double>& w) {
  const double sum = 0.0 + PairwiseSum(w.data(), w.size());
  return 1e-12 > sum ? 1e-12 : sum;  // Python max(sum, 1e-12)
}

// One aggregated value from the weighted class values x_c = w_c * r_c.
double AggregateCell(const std::vector<double>& x, const std::vector<double>& r,
                     const std::vector<double>& w, double wsum,
                     const std::string& strategy) {
  const size_t c_count = x.size();
  if (strategy == "max" || strategy == "softmax_t4") {
    double m = x[0];
    for (size_t c = 1; c < c_count; ++c) m = NumpyMax(m, x[c]);
    if (strategy == "max") return m;
    double sum = 0.0;
    for (size_t c = 0; c < c_count; ++c) sum += std::exp(4.0 * (x[c] - m));
    return m + 0.25 * std::log(sum);
  }
  if (strategy == "sum" || strategy == "mean") {
    double sum = 0.0;
    for (size_t c = 0; c < c_count; ++c) sum += x[c];
    return strategy == "sum" ? sum : sum / wsum;
  }
  if (strategy == "geomean") {
    double sum = 0.0;
    for (size_t c = 0; c < c_count; ++c) {
      sum += w[c] * std::log(NumpyMax(r[c], 1e-12));
    }
    return std::exp(sum / wsum);
  }
  if (strategy == "lp4") {
    double sum = 0.0;
    for (size_t c = 0; c < c_count; ++c) sum += w[c] * std::pow(r[c], 4.0);
    return std::pow(sum, 0.25);
  }
  if (strategy == "second") {
    if (c_count < 2) return x[0];
    return SortedDescending(x)[1];
  }
  // top3mean
  const size_t k = std::min<size_t>(3, c_count);
  const std::vector<double> sorted = SortedDescending(x);
  double sum = 0.0;
  for (size_t i = 0; i < k; ++i) sum += sorted[i];
  return sum / static_cast<double>(k);
}

}  // namespace

double PairwiseSum(const double* a, size_t n) {
  if (n < 8) {
    double res = 0.0;
    for (size_t i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n <= 128) {
    double r[8];
    for (int j = 0; j < 8; ++j) r[j] = a[j];
    size_t i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (int j = 0; j < 8; ++j) r[j] += a[i + j];
    }
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  size_t n2 = n / 2;
  n2 -= n2 % 8;
  return PairwiseSum(a, n2) + PairwiseSum(a + n2, n - n2);
}

std::vector<int64_t> StableArgsort(const double* row, int n, bool descending) {
  std::vector<double> key(row, row + n);
  if (descending) {
    for (double& k : key) k = -k;
  }
  std::vector<int64_t> order(n);
  for (int i = 0; i < n; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return NumpyLess(key[a], key[b]);
  });
  return order;
}

ClassScores BaseScores(const ContribGrid& grid, const ScoreParams& params) {
  ClassScores s = RawScores(grid, params);
  if (params.outlier_mode == "keep" && std::isinf(params.outlier_thresh)) {
    return s;
  }
  for (int c = 0; c < s.classes; ++c) {
    for (int l = 0; l < s.layers; ++l) {
      HandleRowOutliers(s.Row(c, l), grid.wnorm.data() + grid.Index(c, l, 0),
                        s.experts, params.outlier_thresh, params.outlier_mode);
    }
  }
  return s;
}

ClassScores Normalize(const ClassScores& s, const std::string& mode) {
  ClassScores out = s;
  const int n = s.experts;
  for (int c = 0; c < s.classes; ++c) {
    for (int l = 0; l < s.layers; ++l) {
      const double* in = s.Row(c, l);
      double* row = out.Row(c, l);
      if (mode == "mean") {
        const double mean = (0.0 + PairwiseSum(in, n)) / n;
        const double denom = NumpyMax(mean, 1e-12);  // np.clip(mean, eps)
        for (int e = 0; e < n; ++e) row[e] = in[e] / denom;
        continue;
      }
      const std::vector<int64_t> order = StableArgsort(in, n, false);
      const double scale = static_cast<double>(std::max(n - 1, 1));
      for (int k = 0; k < n; ++k) row[order[k]] = k / scale;
    }
  }
  return out;
}

LayerScores Aggregate(const ClassScores& s_norm,
                      const std::vector<double>& weights,
                      const std::string& strategy) {
  LayerScores agg;
  agg.layers = s_norm.layers;
  agg.experts = s_norm.experts;
  agg.v.resize(static_cast<size_t>(agg.layers) * agg.experts);
  const double wsum = WeightSum(weights);
  std::vector<double> x(s_norm.classes);
  std::vector<double> r(s_norm.classes);
  for (int l = 0; l < agg.layers; ++l) {
    for (int e = 0; e < agg.experts; ++e) {
      for (int c = 0; c < s_norm.classes; ++c) {
        r[c] = s_norm.Row(c, l)[e];
        x[c] = r[c] * weights[c];
      }
      agg.Row(l)[e] = AggregateCell(x, r, weights, wsum, strategy);
    }
  }
  return agg;
}

void AddBreadthBonus(const ClassScores& s_norm, double bonus,
                     LayerScores* agg) {
  for (int l = 0; l < agg->layers; ++l) {
    for (int e = 0; e < agg->experts; ++e) {
      double sum = 0.0;
      for (int c = 0; c < s_norm.classes; ++c) sum += s_norm.Row(c, l)[e];
      const double breadth = sum / s_norm.classes;
      agg->Row(l)[e] = agg->Row(l)[e] + bonus * breadth;
    }
  }
}

LayerScores V4Pooled(const ContribGrid& v4, const ScoreParams& params) {
  const ClassScores s = BaseScores(v4, params);
  LayerScores pooled;
  pooled.layers = s.layers;
  pooled.experts = s.experts;
  pooled.v.assign(static_cast<size_t>(s.layers) * s.experts, -kInf);
  for (int l = 0; l < s.layers; ++l) {
    for (int e = 0; e < s.experts; ++e) {
      double m = s.Row(0, l)[e];
      for (int c = 1; c < s.classes; ++c) m = NumpyMax(m, s.Row(c, l)[e]);
      pooled.Row(l)[e] = m;
    }
  }
  return pooled;
}

std::vector<int> V4BestClass(const ContribGrid& v4, const ScoreParams& params) {
  const ClassScores s = RawScores(v4, params);
  std::vector<int> best(static_cast<size_t>(s.layers) * s.experts, 0);
  for (int l = 0; l < s.layers; ++l) {
    for (int e = 0; e < s.experts; ++e) {
      // numpy argmax: keep the first maximum; stop at the first NaN.
      double m = s.Row(0, l)[e];
      int idx = 0;
      for (int c = 1; c < s.classes && !std::isnan(m); ++c) {
        const double x = s.Row(c, l)[e];
        if (!(x <= m)) {
          m = x;
          idx = c;
        }
      }
      best[static_cast<size_t>(l) * s.experts + e] = idx;
    }
  }
  return best;
}

}  // namespace cohort::worker::prune
