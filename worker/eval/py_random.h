// File: py_random.h
//
// Python's `random.Random` as far as the protocol's references use it:
// seeding from an integer, getrandbits, sample, random and gauss. lm-eval draws GSM8K's
// few-shot exemplars with `random.Random(1234).sample(train, 5)`, one call
// per test document in order (docs/protocol.md, GSM8K), so matching the
// exemplars means matching CPython's Mersenne Twister, its seeding
// (init_by_array over the seed's 32-bit words) and sample's algorithm bit
// for bit. Not thread-safe; cheap to copy.
#ifndef COHORT_WORKER_EVAL_PY_RANDOM_H_
#define COHORT_WORKER_EVAL_PY_RANDOM_H_

#include <array>
#include <cstdint>
#include <vector>

namespace cohort::worker::eval {

class PyRandom {
 public:
  // random.Random(seed) for a non-negative integer seed.
  explicit PyRandom(uint64_t seed);

  // random.getrandbits(k) for 1 <= k <= 32.
  uint32_t GetRandBits(int k);
  // random._randbelow(n) for n >= 1 (rejection sampling on bit_length bits).
  uint64_t RandBelow(uint64_t n);
  // The indices random.sample(range(n), k) returns, in its order; k <= n
  // (a larger k gives all n: never a read past the population or a hang).
  std::vector<uint64_t> Sample(uint64_t n, uint64_t k);
  // random.random(): 53 random bits as a double in [0, 1).
  double Random();
  // random.gauss(0, 1): CPython's polar-free Box-Muller with its cached
  // second value (langdetect's alpha jitter).
  double Gauss();

 private:
  uint32_t Next32();
  void InitGenrand(uint32_t s);
  void InitByArray(const std::vector<uint32_t>& key);

  std::array<uint32_t, 624> mt_{};
  int index_ = 625;
  bool has_gauss_next_ = false;
  double gauss_next_ = 0;
};

}  // namespace cohort::worker::eval

#endif  // COHORT_WORKER_EVAL_PY_RANDOM_H_
