#include "worker/eval/py_random.h"

#include <algorithm>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::worker::eval {
namespace {

using ::testing::ElementsAre;

// Expected values from CPython 3.11 (Debian 12's python3):
//   python3 -c 'import random; r=random.Random(1234);
//     print([r.getrandbits(32) for _ in range(3)])'
TEST(PyRandomTest, GetRandBitsMatchesCPython) {
  PyRandom r(1234);
  EXPECT_EQ(r.GetRandBits(32), 4150886329u);
  EXPECT_EQ(r.GetRandBits(32), 3342196574u);
  EXPECT_EQ(r.GetRandBits(32), 1892932127u);
  //   python3 -c 'import random; print(random.Random(2**40+5).getrandbits(32))'
  PyRandom wide((uint64_t{1} << 40) + 5);
  EXPECT_EQ(wide.GetRandBits(32), 2166296868u);
}

// lm-eval's GSM8K exemplars: one random.Random(1234).sample(train, 5) per
// test document, in document order, over the 7,473-row train split:
//   python3 -c 'import random; r=random.Random(1234); p=list(range(7473));
//     [print(r.sample(p, 5)) for _ in range(3)]'
TEST(PyRandomTest, SampleOfALargePopulationMatchesCPython) {
  PyRandom r(1234);
  EXPECT_THAT(r.Sample(7473, 5), ElementsAre(6374, 3610, 957, 61, 742));
  EXPECT_THAT(r.Sample(7473, 5), ElementsAre(7462, 6610, 4769, 286, 5501));
  EXPECT_THAT(r.Sample(7473, 5), ElementsAre(5677, 687, 806, 6279, 2905));
}

// Small populations take sample's pool branch:
//   python3 -c 'import random; r=random.Random(99);
//     print(r.sample(list(range(10)), 4), r.sample(list(range(30)), 7))'
TEST(PyRandomTest, SampleOfASmallPopulationMatchesCPython) {
  PyRandom r(99);
  EXPECT_THAT(r.Sample(10, 4), ElementsAre(6, 9, 3, 4));
  EXPECT_THAT(r.Sample(30, 7), ElementsAre(5, 7, 28, 4, 24, 2, 8));
}

// python3 -c 'import random; r=random.Random(0); print(repr(r.random()),
//   repr(r.gauss(0,1)), repr(r.gauss(0,1)), r._randbelow(1000))'
// More picks than the population (Python's ValueError): all of it, once
// each, instead of a read past the pool or a loop that never ends.
TEST(PyRandomTest, SampleOfMoreThanThePopulationGivesItAll) {
  PyRandom small(1234);
  std::vector<uint64_t> picked = small.Sample(3, 8);
  std::sort(picked.begin(), picked.end());
  EXPECT_EQ(picked, (std::vector<uint64_t>{0, 1, 2}));
  PyRandom large(1234);
  picked = large.Sample(100, 1000);
  std::sort(picked.begin(), picked.end());
  ASSERT_EQ(picked.size(), 100u);
  for (uint64_t i = 0; i < 100; ++i) EXPECT_EQ(picked[i], i);
}

TEST(PyRandomTest, RandomAndGaussAreCPythons) {
  PyRandom r(0);
  EXPECT_EQ(r.Random(), 0.8444218515250481);
  EXPECT_EQ(r.Gauss(), 0.05219198828260849);
  EXPECT_EQ(r.Gauss(), -1.0434089742005737);
  EXPECT_EQ(r.RandBelow(1000), 265u);
}

}  // namespace
}  // namespace cohort::worker::eval
