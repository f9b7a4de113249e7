// The bf16 rounding the upweight relies on (docs/pruning.md §4): ties go to
// the even neighbour, NaN becomes 0xFFFF, overflow becomes infinity. Only the
// alpha 1.05 goldens caught a ties-away-from-zero mutation before; these
// cases name it.
#include "worker/prune/bf16.h"

#include "gtest/gtest.h"

namespace cohort::worker::prune {
namespace {

// A float whose upper 16 bits are `hi` and lower 16 bits `lo`.
float Bits(uint16_t hi, uint16_t lo) { return BitsToFloat((uint32_t{hi} << 16) | lo); }

TEST(Bf16Test, ExactTiesRoundToTheEvenNeighbour) {
  // Half-way (lower half 0x8000): an even upper half stays, an odd one goes up.
  EXPECT_EQ(FloatToBf16(Bits(0x3F80, 0x8000)), 0x3F80);  // 1.0 + half an ulp -> 1.0
  EXPECT_EQ(FloatToBf16(Bits(0x3F81, 0x8000)), 0x3F82);  // odd -> up to even
  EXPECT_EQ(FloatToBf16(Bits(0xBF80, 0x8000)), 0xBF80);  // negative, even: toward zero
  EXPECT_EQ(FloatToBf16(Bits(0xBF81, 0x8000)), 0xBF82);  // negative, odd: away from zero
  EXPECT_EQ(FloatToBf16(Bits(0x0000, 0x8000)), 0x0000);  // subnormal tie at zero
  EXPECT_EQ(FloatToBf16(Bits(0x0001, 0x8000)), 0x0002);
}

TEST(Bf16Test, NonTiesRoundToNearest) {
  EXPECT_EQ(FloatToBf16(Bits(0x3F80, 0x7FFF)), 0x3F80);  // just below half: down
  EXPECT_EQ(FloatToBf16(Bits(0x3F80, 0x8001)), 0x3F81);  // just above half: up
  EXPECT_EQ(FloatToBf16(Bits(0x3F81, 0x7FFF)), 0x3F81);
  EXPECT_EQ(FloatToBf16(Bits(0xBF80, 0x8001)), 0xBF81);
}

TEST(Bf16Test, NanInfinityAndOverflow) {
  EXPECT_EQ(FloatToBf16(Bits(0x7FC0, 0x0000)), 0xFFFF);  // quiet NaN
  EXPECT_EQ(FloatToBf16(Bits(0x7F80, 0x0001)), 0xFFFF);  // signalling NaN
  EXPECT_EQ(FloatToBf16(Bits(0xFFC1, 0x0000)), 0xFFFF);  // negative NaN
  EXPECT_EQ(FloatToBf16(Bits(0x7F80, 0x0000)), 0x7F80);  // +inf stays
  EXPECT_EQ(FloatToBf16(Bits(0xFF80, 0x0000)), 0xFF80);  // -inf stays
  EXPECT_EQ(FloatToBf16(Bits(0x7F7F, 0x8000)), 0x7F80);  // the largest tie overflows
  EXPECT_EQ(ScaleBf16(0x7F7F, 2.0f), 0x7F80);
}

// The upweight's own arithmetic: widen, multiply by alpha as fp32, round.
TEST(Bf16Test, ScaleRoundsTheFp32Product) {
  EXPECT_EQ(ScaleBf16(0x3F80, 1.2f), 0x3F9A);   // 1.2 -> 1.203125
  EXPECT_EQ(ScaleBf16(0x0001, 1.2f), 0x0001);   // subnormals are kept
  EXPECT_EQ(ScaleBf16(0x007F, 1.2f), 0x0098);
  EXPECT_EQ(ScaleBf16(0x8000, 1.2f), 0x8000);   // -0 stays -0
}

}  // namespace
}  // namespace cohort::worker::prune
