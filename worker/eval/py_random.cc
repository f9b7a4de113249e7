#include "worker/eval/py_random.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

namespace cohort::worker::eval {
namespace {

constexpr int kN = 624;
constexpr int kM = 397;
constexpr uint32_t kMatrixA = 0x9908b0dfU;
constexpr uint32_t kUpperMask = 0x80000000U;
constexpr uint32_t kLowerMask = 0x7fffffffU;

int BitLength(uint64_t n) {
  int bits = 0;
  while (n != 0) {
    ++bits;
    n >>= 1;
  }
  return bits;
}

}  // namespace

PyRandom::PyRandom(uint64_t seed) {
  // CPython splits abs(seed) into 32-bit words, least significant first;
  // zero is one word.
  std::vector<uint32_t> key;
  do {
    key.push_back(static_cast<uint32_t>(seed & 0xffffffffU));
    seed >>= 32;
  } while (seed != 0);
  InitByArray(key);
}

void PyRandom::InitGenrand(uint32_t s) {
  mt_[0] = s;
  for (int i = 1; i < kN; ++i) {
    mt_[i] = 1812433253U * (mt_[i - 1] ^ (mt_[i - 1] >> 30)) + static_cast<uint32_t>(i);
  }
  index_ = kN;
}

void PyRandom::InitByArray(const std::vector<uint32_t>& key) {
  InitGenrand(19650218U);
  int i = 1;
  size_t j = 0;
  const size_t length = key.size();
  for (size_t k = std::max<size_t>(kN, length); k > 0; --k) {
    mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1664525U)) + key[j] +
             static_cast<uint32_t>(j);
    ++i;
    ++j;
    if (i >= kN) {
      mt_[0] = mt_[kN - 1];
      i = 1;
    }
    if (j >= length) j = 0;
  }
  for (int k = kN - 1; k > 0; --k) {
    mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1566083941U)) -
             static_cast<uint32_t>(i);
    ++i;
    if (i >= kN) {
      mt_[0] = mt_[kN - 1];
      i = 1;
    }
  }
  mt_[0] = 0x80000000U;  // the state is never all zeros
  index_ = kN;
}

uint32_t PyRandom::Next32() {
  if (index_ >= kN) {
    for (int k = 0; k < kN; ++k) {
      uint32_t y = (mt_[k] & kUpperMask) | (mt_[(k + 1) % kN] & kLowerMask);
      mt_[k] = mt_[(k + kM) % kN] ^ (y >> 1) ^ ((y & 1U) ? kMatrixA : 0U);
    }
    index_ = 0;
  }
  uint32_t y = mt_[index_++];
  y ^= (y >> 11);
  y ^= (y << 7) & 0x9d2c5680U;
  y ^= (y << 15) & 0xefc60000U;
  y ^= (y >> 18);
  return y;
}

uint32_t PyRandom::GetRandBits(int k) { return Next32() >> (32 - k); }

uint64_t PyRandom::RandBelow(uint64_t n) {
  // Python draws bit_length(n) bits and rejects values >= n. Sizes here
  // (dataset rows) fit 32 bits.
  const int bits = BitLength(n);
  uint64_t r = GetRandBits(bits);
  while (r >= n) r = GetRandBits(bits);
  return r;
}

double PyRandom::Random() {
  uint32_t a = Next32() >> 5;
  uint32_t b = Next32() >> 6;
  return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
}

double PyRandom::Gauss() {
  if (has_gauss_next_) {
    has_gauss_next_ = false;
    return gauss_next_;
  }
  constexpr double kTwoPi = 6.283185307179586;
  double x2pi = Random() * kTwoPi;
  double g2rad = std::sqrt(-2.0 * std::log(1.0 - Random()));
  gauss_next_ = std::sin(x2pi) * g2rad;
  has_gauss_next_ = true;
  return std::cos(x2pi) * g2rad;
}

std::vector<uint64_t> PyRandom::Sample(uint64_t n, uint64_t k) {
  // Python raises ValueError for k > n; callers check first (GSM8K's train
  // split), and a k past n here would read past the pool or never end.
  k = std::min(k, n);
  std::vector<uint64_t> result(k);
  // CPython 3.11: a pool (list) when n is small next to the set k picks
  // would need, else rejection against a set of picked indices.
  uint64_t setsize = 21;
  if (k > 5) {
    setsize += static_cast<uint64_t>(
        std::pow(4.0, std::ceil(std::log(static_cast<double>(k) * 3) / std::log(4.0))));
  }
  if (n <= setsize) {
    std::vector<uint64_t> pool(n);
    for (uint64_t i = 0; i < n; ++i) pool[i] = i;
    for (uint64_t i = 0; i < k; ++i) {
      uint64_t j = RandBelow(n - i);
      result[i] = pool[j];
      pool[j] = pool[n - i - 1];
    }
    return result;
  }
  std::unordered_set<uint64_t> selected;
  for (uint64_t i = 0; i < k; ++i) {
    uint64_t j = RandBelow(n);
    while (selected.count(j) != 0) j = RandBelow(n);
    selected.insert(j);
    result[i] = j;
  }
  return result;
}

}  // namespace cohort::worker::eval
