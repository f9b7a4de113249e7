// File: dropmap_pyset.h
//
// Exact emulations of two CPython 3.11 behaviours that decide tie order in
// the reference drop-map generator (docs/pruning.md §2.1):
//
//   - PySetOrder: the iteration order of a Python set of small non-negative
//     ints (hash(i) == i) after a given history of add() and discard().
//     Open addressing, table of 8 slots growing x4 (x2 above 50,000 entries)
//     when 5*fill >= 3*mask, 9 linear probes then perturbed probing, the last
//     deleted slot on the probe path reused by a later add, iteration in slot
//     order.
//   - PyStableSortByKey: list.sort(key=...) with float keys compared by `<`
//     only. With NaN-free keys this is any stable sort; for lists shorter than
//     64 it follows CPython's count_run + binary insertion sort step by step,
//     so NaN keys also land where Python puts them. (Longer lists with NaN
//     keys fall back to std::stable_sort; see TODO in the .cc.)
//
//   PySetOrder set;
//   for (int id : {40, 8, 72}) set.Add(id);
//   std::vector<int> order = set.Items();   // CPython's list(set)
//
// Not thread-safe.
#ifndef COHORT_WORKER_PRUNE_DROPMAP_PYSET_H_
#define COHORT_WORKER_PRUNE_DROPMAP_PYSET_H_

#include <cstdint>
#include <functional>
#include <vector>

namespace cohort::worker::prune {

class PySetOrder {
 public:
  PySetOrder();
  // set(range(n)).
  static PySetOrder Range(int64_t n);

  // REQUIRES: key >= 0.
  void Add(int64_t key);
  void Discard(int64_t key);
  bool Contains(int64_t key) const;
  int64_t size() const { return used_; }
  // Keys in iteration order.
  std::vector<int64_t> Items() const;

  // `self - other` as CPython's set_difference builds it (a copy with
  // deletions when len(self)/4 > len(other), else fresh insertion).
  PySetOrder Difference(const PySetOrder& other) const;

 private:
  static constexpr int64_t kEmpty = -1;
  static constexpr int64_t kDummy = -2;
  void Resize(int64_t min_used);
  void InsertClean(int64_t key);
  int64_t Lookup(int64_t key) const;  // slot index, or -1
  void DifferenceUpdate(const PySetOrder& other);
  void MergeFrom(const PySetOrder& other);

  std::vector<int64_t> table_;
  int64_t mask_ = 7;
  int64_t fill_ = 0;
  int64_t used_ = 0;
};

// Stably sorts `items` by key(item) ascending as Python's list.sort does with
// float keys (see above).
void PyStableSortByKey(std::vector<int64_t>* items,
                       const std::function<double(int64_t)>& key);

}  // namespace cohort::worker::prune

#endif  // COHORT_WORKER_PRUNE_DROPMAP_PYSET_H_
