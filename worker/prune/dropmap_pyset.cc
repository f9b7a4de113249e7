#include "worker/prune/dropmap_pyset.h"

#include <algorithm>
#include <utility>

namespace cohort::worker::prune {
namespace {

constexpr int64_t kLinearProbes = 9;
constexpr int kPerturbShift = 5;
constexpr int64_t kMinSize = 8;

}  // namespace

PySetOrder::PySetOrder() : table_(kMinSize, kEmpty) {}

PySetOrder PySetOrder::Range(int64_t n) {
  PySetOrder set;
  for (int64_t i = 0; i < n; ++i) set.Add(i);
  return set;
}

void PySetOrder::InsertClean(int64_t key) {
  uint64_t perturb = static_cast<uint64_t>(key);
  uint64_t i = perturb & static_cast<uint64_t>(mask_);
  const uint64_t mask = static_cast<uint64_t>(mask_);
  while (true) {
    if (table_[i] == kEmpty) break;
    bool placed = false;
    if (i + kLinearProbes <= mask) {
      for (int64_t j = 1; j <= kLinearProbes; ++j) {
        if (table_[i + j] == kEmpty) {
          i += j;
          placed = true;
          break;
        }
      }
    }
    if (placed) break;
    perturb >>= kPerturbShift;
    i = (i * 5 + 1 + perturb) & mask;
  }
  table_[i] = key;
  ++fill_;
  ++used_;
}

void PySetOrder::Resize(int64_t min_used) {
  int64_t new_size = kMinSize;
  while (new_size <= min_used) new_size <<= 1;
  std::vector<int64_t> old = std::move(table_);
  table_.assign(new_size, kEmpty);
  mask_ = new_size - 1;
  fill_ = 0;
  used_ = 0;
  // Old slot order, dummies dropped: this is what makes the order depend on
  // the insert history.
  for (int64_t key : old) {
    if (key >= 0) InsertClean(key);
  }
}

void PySetOrder::Add(int64_t key) {
  const uint64_t mask = static_cast<uint64_t>(mask_);
  uint64_t perturb = static_cast<uint64_t>(key);
  uint64_t i = perturb & mask;
  int64_t freeslot = -1;
  int64_t found_empty = -1;
  while (found_empty < 0) {
    const int64_t probes = (i + kLinearProbes <= mask) ? kLinearProbes : 0;
    for (int64_t j = 0; j <= probes; ++j) {
      const int64_t slot = table_[i + j];
      if (slot == kEmpty) {
        found_empty = static_cast<int64_t>(i + j);
        break;
      }
      if (slot == key) return;
      // CPython 3.11 remembers the last deleted slot on the probe path, not
      // the first (checked against the interpreter on random histories).
      if (slot == kDummy) freeslot = static_cast<int64_t>(i + j);
    }
    if (found_empty >= 0) break;
    perturb >>= kPerturbShift;
    i = (i * 5 + 1 + perturb) & mask;
  }
  if (freeslot >= 0) {
    // A deleted slot on the probe path is reused; fill does not grow.
    table_[freeslot] = key;
    ++used_;
    return;
  }
  table_[found_empty] = key;
  ++fill_;
  ++used_;
  if (fill_ * 5 < mask_ * 3) return;
  Resize(used_ > 50000 ? used_ * 2 : used_ * 4);
}

int64_t PySetOrder::Lookup(int64_t key) const {
  const uint64_t mask = static_cast<uint64_t>(mask_);
  uint64_t perturb = static_cast<uint64_t>(key);
  uint64_t i = perturb & mask;
  while (true) {
    const int64_t probes = (i + kLinearProbes <= mask) ? kLinearProbes : 0;
    for (int64_t j = 0; j <= probes; ++j) {
      const int64_t slot = table_[i + j];
      if (slot == kEmpty) return -1;
      if (slot == key) return static_cast<int64_t>(i + j);
    }
    perturb >>= kPerturbShift;
    i = (i * 5 + 1 + perturb) & mask;
  }
}

bool PySetOrder::Contains(int64_t key) const { return Lookup(key) >= 0; }

void PySetOrder::Discard(int64_t key) {
  const int64_t slot = Lookup(key);
  if (slot < 0) return;
  table_[slot] = kDummy;
  --used_;
}

std::vector<int64_t> PySetOrder::Items() const {
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(used_));
  for (int64_t key : table_) {
    if (key >= 0) out.push_back(key);
  }
  return out;
}

void PySetOrder::MergeFrom(const PySetOrder& other) {
  // set_merge into an empty set: one resize up front, then either a verbatim
  // copy (same table size, no dummies) or clean inserts in slot order.
  if (other.used_ == 0) return;
  if ((fill_ + other.used_) * 5 >= mask_ * 3) {
    Resize((used_ + other.used_) * 2);
  }
  if (mask_ == other.mask_ && other.fill_ == other.used_) {
    table_ = other.table_;
    fill_ = other.fill_;
    used_ = other.used_;
    return;
  }
  for (int64_t key : other.table_) {
    if (key >= 0) InsertClean(key);
  }
}

void PySetOrder::DifferenceUpdate(const PySetOrder& other) {
  for (int64_t key : other.Items()) Discard(key);
  if (fill_ - used_ <= mask_ / 4) return;
  Resize(used_ > 50000 ? used_ * 2 : used_ * 4);
}

PySetOrder PySetOrder::Difference(const PySetOrder& other) const {
  PySetOrder result;
  if ((used_ >> 2) > other.used_) {
    result.MergeFrom(*this);
    result.DifferenceUpdate(other);
    return result;
  }
  for (int64_t key : Items()) {
    if (!other.Contains(key)) result.Add(key);
  }
  return result;
}

void PyStableSortByKey(std::vector<int64_t>* items,
                       const std::function<double(int64_t)>& key) {
  const size_t n = items->size();
  if (n < 2) return;
  std::vector<std::pair<double, int64_t>> kv(n);
  for (size_t i = 0; i < n; ++i) kv[i] = {key((*items)[i]), (*items)[i]};
  if (n >= 64) {
    // TODO(dropmap): port timsort's merges if NaN keys on >= 64 items ever
    // matter; with NaN-free keys every stable sort agrees.
    std::stable_sort(kv.begin(), kv.end(), [](const auto& a, const auto& b) {
      return a.first < b.first;
    });
  } else {
    // CPython for n < 64: one run found by count_run (a strictly descending
    // run is reversed), then extended by binary insertion.
    size_t run = 1;
    if (kv[1].first < kv[0].first) {
      run = 2;
      while (run < n && kv[run].first < kv[run - 1].first) ++run;
      std::reverse(kv.begin(), kv.begin() + run);
    } else {
      run = 2;
      while (run < n && !(kv[run].first < kv[run - 1].first)) ++run;
    }
    for (size_t start = run; start < n; ++start) {
      const auto pivot = kv[start];
      size_t l = 0;
      size_t r = start;
      do {
        const size_t p = l + ((r - l) >> 1);
        if (pivot.first < kv[p].first) {
          r = p;
        } else {
          l = p + 1;
        }
      } while (l < r);
      std::move_backward(kv.begin() + l, kv.begin() + start,
                         kv.begin() + start + 1);
      kv[l] = pivot;
    }
  }
  for (size_t i = 0; i < n; ++i) (*items)[i] = kv[i].second;
}

}  // namespace cohort::worker::prune
