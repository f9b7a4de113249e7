// File: safetensors_dtype.h
//
// The safetensors dtype table (docs/pruning.md §5). The enum order is the
// reference's (huggingface/safetensors `Dtype`): its writer lays tensors out
// by dtype *descending* in this order, then by name, so the order is part of
// the file format we reproduce byte for byte.
#ifndef COHORT_WORKER_PRUNE_SAFETENSORS_DTYPE_H_
#define COHORT_WORKER_PRUNE_SAFETENSORS_DTYPE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace cohort::worker::prune {

enum class Dtype : uint8_t {
  kBool,
  kF4,
  kF6E2M3,
  kF6E3M2,
  kU8,
  kI8,
  kF8E5M2,
  kF8E4M3,
  kF8E8M0,
  kF8E4M3Fnuz,
  kF8E5M2Fnuz,
  kI16,
  kU16,
  kF16,
  kBF16,
  kI32,
  kU32,
  kF32,
  kC64,
  kF64,
  kI64,
  kU64,
};

// "BF16", "F8_E4M3", ... as written in headers.
absl::string_view DtypeName(Dtype dtype);

// Width of one element in bits (4 for F4, 6 for F6_*).
int DtypeBits(Dtype dtype);

// The dtype for a header string; nullopt for an unknown one.
std::optional<Dtype> ParseDtype(absl::string_view name);

// Bytes for `elements` elements, or nullopt when the bit count is not a
// whole number of bytes (safetensors' MisalignedSlice) or overflows.
std::optional<uint64_t> DtypeBytes(Dtype dtype, uint64_t elements);

}  // namespace cohort::worker::prune

#endif  // COHORT_WORKER_PRUNE_SAFETENSORS_DTYPE_H_
