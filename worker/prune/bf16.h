// File: bf16.h
//
// Scalar conversions for the shared-expert upweight (docs/pruning.md §4):
// widen to fp32, multiply by alpha already cast to fp32, round back with
// round-to-nearest-even. Bit-exact with torch 2.11 on x86 for BF16, including
// subnormals (no flush to zero), overflow to +-inf, and the NaN rule: any NaN
// input gives 0xFFFF (ATen's vectorized float->bf16 conversion), not 0x7FC0.
#ifndef COHORT_WORKER_PRUNE_BF16_H_
#define COHORT_WORKER_PRUNE_BF16_H_

#include <cmath>
#include <cstdint>
#include <cstring>

namespace cohort::worker::prune {

inline float BitsToFloat(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

inline uint32_t FloatToBits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof(bits));
  return bits;
}

inline float Bf16ToFloat(uint16_t h) { return BitsToFloat(uint32_t{h} << 16); }

// RNE to bf16; NaN -> 0xFFFF (docs/pruning.md §4, step 4).
inline uint16_t FloatToBf16(float f) {
  uint32_t u = FloatToBits(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return 0xFFFF;
  u += 0x7FFFu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

inline uint16_t ScaleBf16(uint16_t h, float alpha) {
  return FloatToBf16(Bf16ToFloat(h) * alpha);
}

// IEEE half <-> float. The half path is not pinned by a golden; it follows
// the same widen-multiply-RNE recipe, NaNs stay quiet NaNs of the same sign.
inline float HalfToFloat(uint16_t h) {
  uint32_t sign = uint32_t{h & 0x8000u} << 16;
  uint32_t exp = (h >> 10) & 0x1Fu;
  uint32_t man = h & 0x3FFu;
  if (exp == 0x1F) return BitsToFloat(sign | 0x7F800000u | (man << 13));
  if (exp != 0) return BitsToFloat(sign | ((exp + 112) << 23) | (man << 13));
  // Subnormal half: man * 2^-24, exact in float.
  float value = static_cast<float>(man) * 5.9604644775390625e-8f;
  return sign != 0 ? -value : value;
}

inline uint16_t FloatToHalf(float f) {
  uint32_t u = FloatToBits(f);
  uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  uint32_t abs = u & 0x7FFFFFFFu;
  if (abs > 0x7F800000u) return sign | 0x7E00u | ((abs >> 13) & 0x3FFu);
  if (abs >= 0x477FF000u) return sign | 0x7C00u;  // rounds to >= 65520: inf
  if (abs < 0x38800000u) {
    // Result is subnormal (or zero): scale so the integer part is the
    // mantissa, and let the FPU round to nearest even.
    float scaled = BitsToFloat(abs) * 16777216.0f;  // * 2^24, exact
    return sign | static_cast<uint16_t>(std::nearbyint(scaled));
  }
  uint32_t rounded = abs + 0xFFFu + ((abs >> 13) & 1u);
  return sign | static_cast<uint16_t>((rounded - 0x38000000u) >> 13);
}

inline uint16_t ScaleHalf(uint16_t h, float alpha) {
  return FloatToHalf(HalfToFloat(h) * alpha);
}

}  // namespace cohort::worker::prune

#endif  // COHORT_WORKER_PRUNE_BF16_H_
