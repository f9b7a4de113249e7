// File: ggml_types.h
//
// The two number spaces a GGUF file uses to say what its bytes are:
//   - ggml tensor types (`enum ggml_type`, stored per tensor): their names
//     ("q6_K", as ggml_type_name prints them) and their block geometry
//     (elements per block, bytes per block), from which a tensor's byte size
//     follows;
//   - llama file types (`enum llama_ftype`, stored as general.file_type):
//     their names ("MOSTLY_Q6_K", as gguf-py's LlamaFileType spells them).
//
//   const GgmlTypeInfo* t = FindGgmlType(14);          // q6_K: 256 / 210
//   absl::StatusOr<uint64_t> n = TensorBytes(*t, {2816, 1408, 98});
//   std::string name = LlamaFileTypeName(18);          // "MOSTLY_Q6_K"
//
// Values follow llama.cpp's ggml.h / gguf-py constants.py. Ids that ggml
// removed (4, 5, 31-33, 36-38) are unknown here, as they are to a current
// ggml, so a file using them is refused rather than mis-sized.
#ifndef COHORT_WORKER_QUANT_GGML_TYPES_H_
#define COHORT_WORKER_QUANT_GGML_TYPES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cohort::worker::quant {

struct GgmlTypeInfo {
  uint32_t id = 0;
  const char* name = "";    // ggml_type_name(): "f32", "q6_K", "iq2_xxs"
  uint32_t block_size = 1;  // elements per block
  uint32_t type_size = 0;   // bytes per block
  bool quantized = false;   // false for f32/f16/bf16/f64 and the int types
};

// Frequently named ids (the full table is in ggml_types.cc).
inline constexpr uint32_t kGgmlF32 = 0;
inline constexpr uint32_t kGgmlF16 = 1;
inline constexpr uint32_t kGgmlQ8_0 = 8;
inline constexpr uint32_t kGgmlQ6_K = 14;
inline constexpr uint32_t kGgmlBF16 = 30;

// nullptr when `id` is not a ggml type (never was, or was removed).
const GgmlTypeInfo* FindGgmlType(uint32_t id);
// By name, case-insensitive ("Q6_K" finds q6_K); nullptr when unknown.
const GgmlTypeInfo* FindGgmlTypeByName(absl::string_view name);
// Every known type, in id order.
const std::vector<GgmlTypeInfo>& AllGgmlTypes();

// Bytes of a tensor of `type` with ggml dims `ne` (ne[0] is the row length).
// Returns kInvalidArgument when ne[0] is not a multiple of the block size and
// kOutOfRange when the element count or byte size overflows 63 bits.
absl::StatusOr<uint64_t> TensorBytes(const GgmlTypeInfo& type,
                                     const std::vector<uint64_t>& ne);

// general.file_type names, without a leading "LLAMA_FTYPE_": 0 ->
// "ALL_F32", 18 -> "MOSTLY_Q6_K", 1024 -> "GUESSED". An unknown value gives
// "UNKNOWN_<n>" (a newer llama.cpp may add types; reading must not fail).
std::string LlamaFileTypeName(uint32_t file_type);

// The general.file_type value for a name: accepts "MOSTLY_Q6_K", "Q6_K",
// "q6_k", "ALL_F32", "F32" and llama-quantize's aliases "Q4_K" (Q4_K_M),
// "Q5_K" (Q5_K_M), "Q3_K" (Q3_K_M). kInvalidArgument for anything else.
absl::StatusOr<uint32_t> LlamaFileTypeFromName(absl::string_view name);

}  // namespace cohort::worker::quant

#endif  // COHORT_WORKER_QUANT_GGML_TYPES_H_
