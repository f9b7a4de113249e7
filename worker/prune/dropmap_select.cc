#include "worker/prune/dropmap_select.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "worker/prune/dropmap_pyset.h"

namespace cohort::worker::prune {
namespace {

// Adds the first k of `order` (Python slice semantics) to `set`.
void AddTop(const std::vector<int64_t>& order, int64_t k, PySetOrder* set) {
  const int64_t n = PySliceLen(k, static_cast<int64_t>(order.size()));
  for (int64_t i = 0; i < n; ++i) set->Add(order[i]);
}

// Insert order matters: it fixes the set's iteration order, which breaks
// priority ties in the overflow release.
PySetOrder ProtectedSet(const SelectionInputs& in, int l) {
  const int n = in.agg->experts;
  const LayerScores& ps = in.protect_agg ? *in.protect_agg : *in.agg;
  PySetOrder set;
  AddTop(StableArgsort(ps.Row(l), n, true), in.protect_top, &set);
  if (in.class_protect_floor > 0 && in.s_norm != nullptr) {
    for (int c = 0; c < in.s_norm->classes; ++c) {
      AddTop(StableArgsort(in.s_norm->Row(c, l), n, true),
             in.class_protect_floor, &set);
    }
  }
  if (in.v4_pooled != nullptr && in.floor_per_layer[l] > 0) {
    AddTop(StableArgsort(in.v4_pooled->Row(l), n, true),
           in.floor_per_layer[l], &set);
  }
  return set;
}

std::vector<bool> ReleaseOverflow(const SelectionInputs& in, int l,
                                  const PySetOrder& set,
                                  std::vector<std::string>* log) {
  const int n = in.agg->experts;
  std::vector<bool> is_protected(n, false);
  std::vector<int64_t> items = set.Items();
  if (static_cast<int64_t>(items.size()) > in.target) {
    const double* priority =
        in.v4_pooled ? in.v4_pooled->Row(l) : in.agg->Row(l);
    PyStableSortByKey(&items, [&](int64_t e) { return -priority[e]; });
    log->push_back(absl::StrCat("layer ", l, ": |protected|=", items.size(),
                                " > target=", in.target, "; released ",
                                items.size() - in.target,
                                " lowest-priority protections"));
    items.resize(static_cast<size_t>(in.target));
  }
  for (int64_t e : items) is_protected[e] = true;
  return is_protected;
}

void SelectLayer(const SelectionInputs& in, int l, Selection* out) {
  const int n = in.agg->experts;
  const int64_t n_drop = n - in.target;
  const double* row = in.agg->Row(l);
  const std::vector<bool> is_protected =
      ReleaseOverflow(in, l, ProtectedSet(in, l), &out->log);
  std::vector<int64_t> dropped;
  for (int64_t e : StableArgsort(row, n, false)) {
    if (static_cast<int64_t>(dropped.size()) >= n_drop) break;
    if (!is_protected[e]) dropped.push_back(e);
  }
  int64_t ties = 0;
  if (n_drop > 0) {
    const double boundary = row[dropped.back()];
    std::vector<bool> is_dropped(n, false);
    for (int64_t e : dropped) is_dropped[e] = true;
    for (int e = 0; e < n; ++e) {
      if (!is_dropped[e] && row[e] < boundary * 1.01) ++ties;
    }
  }
  std::sort(dropped.begin(), dropped.end());
  out->drop[l] = std::move(dropped);
  out->boundary_ties[l] = ties;
}

struct LayerClassState {
  const double* agg;
  const int* best;  // v4 best class per expert of this layer
  const std::vector<bool>* pinned;
  std::vector<int64_t> kept_count;  // per v4 class
  std::vector<int64_t> minimum;     // per v4 class, 0 without a minimum
};

// Kept, unpinned experts of a class other than `cls`, in `kept` set order,
// filtered by `accept`, then stably sorted by agg.
template <typename Accept>
std::vector<int64_t> DemoteCandidates(const LayerClassState& st,
                                      const PySetOrder& kept, int cls,
                                      Accept accept) {
  std::vector<int64_t> pool;
  for (int64_t e : kept.Items()) {
    if (!(*st.pinned)[e] && st.best[e] != cls && accept(e)) pool.push_back(e);
  }
  PyStableSortByKey(&pool, [&](int64_t e) { return st.agg[e]; });
  return pool;
}

void SatisfyMinimum(LayerClassState& st, const ClassMinimum& m,
                    PySetOrder* kept, std::vector<int64_t>* drop) {
  const int cls = m.v4_class;
  if (st.kept_count[cls] >= m.minimum) return;
  int64_t shortfall = m.minimum - st.kept_count[cls];
  std::vector<int64_t> promote;
  for (int64_t e : *drop) {
    if (st.best[e] == cls) promote.push_back(e);
  }
  PyStableSortByKey(&promote, [&](int64_t e) { return -st.agg[e]; });
  shortfall = std::min<int64_t>(shortfall, promote.size());
  promote.resize(static_cast<size_t>(shortfall));
  std::vector<int64_t> demote = DemoteCandidates(st, *kept, cls, [&](int64_t e) {
    const int c = st.best[e];
    return st.kept_count[c] > st.minimum[c];  // not at its own minimum
  });
  if (static_cast<int64_t>(demote.size()) > shortfall) demote.resize(shortfall);
  if (static_cast<int64_t>(demote.size()) < shortfall) {
    const std::vector<int64_t> chosen = demote;
    std::vector<int64_t> extra =
        DemoteCandidates(st, *kept, cls, [&](int64_t e) {
          return std::find(chosen.begin(), chosen.end(), e) == chosen.end();
        });
    const size_t want = static_cast<size_t>(shortfall) - demote.size();
    for (size_t i = 0; i < extra.size() && i < want; ++i) {
      demote.push_back(extra[i]);
    }
  }
  const size_t swaps = std::min(promote.size(), demote.size());
  for (size_t i = 0; i < swaps; ++i) {
    const int64_t p = promote[i];
    const int64_t d = demote[i];
    drop->erase(std::find(drop->begin(), drop->end(), p));
    drop->push_back(d);
    kept->Discard(d);
    kept->Add(p);
    ++st.kept_count[cls];
    --st.kept_count[st.best[d]];
  }
  std::sort(drop->begin(), drop->end());
}

}  // namespace

int64_t PySliceLen(int64_t k, int64_t n) {
  if (k >= 0) return std::min(k, n);
  return std::max<int64_t>(n + k, 0);
}

Selection SelectDrops(const SelectionInputs& in) {
  Selection out;
  out.drop.resize(in.agg->layers);
  out.boundary_ties.assign(in.agg->layers, 0);
  for (int l = 0; l < in.agg->layers; ++l) SelectLayer(in, l, &out);
  return out;
}

std::vector<std::vector<bool>> PinnedExperts(const SelectionInputs& in) {
  const int n = in.agg->experts;
  const LayerScores& ps = in.protect_agg ? *in.protect_agg : *in.agg;
  std::vector<std::vector<bool>> pinned(in.agg->layers,
                                        std::vector<bool>(n, false));
  for (int l = 0; l < in.agg->layers; ++l) {
    auto pin = [&](const std::vector<int64_t>& order, int64_t k) {
      const int64_t count = PySliceLen(k, n);
      for (int64_t i = 0; i < count; ++i) pinned[l][order[i]] = true;
    };
    pin(StableArgsort(ps.Row(l), n, true), in.protect_top);
    if (in.v4_pooled != nullptr && in.floor_per_layer[l] > 0) {
      pin(StableArgsort(in.v4_pooled->Row(l), n, true), in.floor_per_layer[l]);
    }
  }
  return pinned;
}

void EnforceClassMinima(const LayerScores& agg,
                        const std::vector<int>& best_class, int v4_classes,
                        const std::vector<ClassMinimum>& minima,
                        const std::vector<std::vector<bool>>& pinned,
                        std::vector<std::vector<int64_t>>* drop) {
  const int n = agg.experts;
  const PySetOrder all = PySetOrder::Range(n);
  for (int l = 0; l < agg.layers; ++l) {
    std::vector<int64_t>& layer_drop = (*drop)[l];
    PySetOrder dropped_set;
    for (int64_t e : layer_drop) dropped_set.Add(e);
    // `kept` is a Python set: its iteration order feeds the demote ties.
    PySetOrder kept = all.Difference(dropped_set);
    LayerClassState st{agg.Row(l), best_class.data() + static_cast<size_t>(l) * n,
                       &pinned[l], std::vector<int64_t>(v4_classes, 0),
                       std::vector<int64_t>(v4_classes, 0)};
    for (int64_t e : kept.Items()) ++st.kept_count[st.best[e]];
    for (const ClassMinimum& m : minima) st.minimum[m.v4_class] = m.minimum;
    for (const ClassMinimum& m : minima) {
      SatisfyMinimum(st, m, &kept, &layer_drop);
    }
  }
}

}  // namespace cohort::worker::prune
