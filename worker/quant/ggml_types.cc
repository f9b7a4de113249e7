#include "worker/quant/ggml_types.h"

#include <limits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace cohort::worker::quant {
namespace {

constexpr uint32_t kQK = 256;  // QK_K, the super-block of the k-quants

const std::vector<GgmlTypeInfo>& Table() {
  static const auto* table = new std::vector<GgmlTypeInfo>{
      {0, "f32", 1, 4, false},
      {1, "f16", 1, 2, false},
      {2, "q4_0", 32, 18, true},
      {3, "q4_1", 32, 20, true},
      {6, "q5_0", 32, 22, true},
      {7, "q5_1", 32, 24, true},
      {8, "q8_0", 32, 34, true},
      // ggml's block_q8_1 is two halves + 32 bytes (36); gguf-py's table
      // still says 40 from an older layout. ggml is what loads the file.
      {9, "q8_1", 32, 36, true},
      {10, "q2_K", kQK, 84, true},
      {11, "q3_K", kQK, 110, true},
      {12, "q4_K", kQK, 144, true},
      {13, "q5_K", kQK, 176, true},
      {14, "q6_K", kQK, 210, true},
      {15, "q8_K", kQK, 292, true},
      {16, "iq2_xxs", kQK, 66, true},
      {17, "iq2_xs", kQK, 74, true},
      {18, "iq3_xxs", kQK, 98, true},
      {19, "iq1_s", kQK, 50, true},
      {20, "iq4_nl", 32, 18, true},
      {21, "iq3_s", kQK, 110, true},
      {22, "iq2_s", kQK, 82, true},
      {23, "iq4_xs", kQK, 136, true},
      {24, "i8", 1, 1, false},
      {25, "i16", 1, 2, false},
      {26, "i32", 1, 4, false},
      {27, "i64", 1, 8, false},
      {28, "f64", 1, 8, false},
      {29, "iq1_m", kQK, 56, true},
      {30, "bf16", 1, 2, false},
      {34, "tq1_0", kQK, 54, true},
      {35, "tq2_0", kQK, 66, true},
      {39, "mxfp4", 32, 17, true},
      {40, "nvfp4", 64, 36, true},
      {41, "q1_0", 128, 18, true},
  };
  return *table;
}

const std::vector<std::pair<uint32_t, const char*>>& FileTypes() {
  static const auto* names = new std::vector<std::pair<uint32_t, const char*>>{
      {0, "ALL_F32"},
      {1, "MOSTLY_F16"},
      {2, "MOSTLY_Q4_0"},
      {3, "MOSTLY_Q4_1"},
      {4, "MOSTLY_Q4_1_SOME_F16"},
      {7, "MOSTLY_Q8_0"},
      {8, "MOSTLY_Q5_0"},
      {9, "MOSTLY_Q5_1"},
      {10, "MOSTLY_Q2_K"},
      {11, "MOSTLY_Q3_K_S"},
      {12, "MOSTLY_Q3_K_M"},
      {13, "MOSTLY_Q3_K_L"},
      {14, "MOSTLY_Q4_K_S"},
      {15, "MOSTLY_Q4_K_M"},
      {16, "MOSTLY_Q5_K_S"},
      {17, "MOSTLY_Q5_K_M"},
      {18, "MOSTLY_Q6_K"},
      {19, "MOSTLY_IQ2_XXS"},
      {20, "MOSTLY_IQ2_XS"},
      {21, "MOSTLY_Q2_K_S"},
      {22, "MOSTLY_IQ3_XS"},
      {23, "MOSTLY_IQ3_XXS"},
      {24, "MOSTLY_IQ1_S"},
      {25, "MOSTLY_IQ4_NL"},
      {26, "MOSTLY_IQ3_S"},
      {27, "MOSTLY_IQ3_M"},
      {28, "MOSTLY_IQ2_S"},
      {29, "MOSTLY_IQ2_M"},
      {30, "MOSTLY_IQ4_XS"},
      {31, "MOSTLY_IQ1_M"},
      {32, "MOSTLY_BF16"},
      {33, "MOSTLY_Q4_0_4_4"},
      {34, "MOSTLY_Q4_0_4_8"},
      {35, "MOSTLY_Q4_0_8_8"},
      {36, "MOSTLY_TQ1_0"},
      {37, "MOSTLY_TQ2_0"},
      {38, "MOSTLY_MXFP4_MOE"},
      {39, "MOSTLY_NVFP4"},
      {40, "MOSTLY_Q1_0"},
      {1024, "GUESSED"},
  };
  return *names;
}

}  // namespace

const GgmlTypeInfo* FindGgmlType(uint32_t id) {
  for (const GgmlTypeInfo& t : Table()) {
    if (t.id == id) return &t;
  }
  return nullptr;
}

const GgmlTypeInfo* FindGgmlTypeByName(absl::string_view name) {
  for (const GgmlTypeInfo& t : Table()) {
    if (absl::EqualsIgnoreCase(t.name, name)) return &t;
  }
  return nullptr;
}

const std::vector<GgmlTypeInfo>& AllGgmlTypes() { return Table(); }

absl::StatusOr<uint64_t> TensorBytes(const GgmlTypeInfo& type,
                                     const std::vector<uint64_t>& ne) {
  constexpr uint64_t kMax = std::numeric_limits<int64_t>::max();
  uint64_t elements = 1;
  for (uint64_t n : ne) {
    if (n > kMax) {
      return absl::OutOfRangeError(absl::StrCat("dimension ", n, " > 2^63"));
    }
    if (n != 0 && elements > kMax / n) {
      return absl::OutOfRangeError("element count overflows 63 bits");
    }
    elements *= n;
  }
  uint64_t row = ne.empty() ? 1 : ne[0];
  if (row % type.block_size != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("row length ", row, " is not a multiple of the ",
                     type.name, " block size ", type.block_size));
  }
  uint64_t blocks = elements / type.block_size;
  if (blocks != 0 && type.type_size > kMax / blocks) {
    return absl::OutOfRangeError("byte size overflows 63 bits");
  }
  return blocks * type.type_size;
}

std::string LlamaFileTypeName(uint32_t file_type) {
  for (const auto& [id, name] : FileTypes()) {
    if (id == file_type) return name;
  }
  return absl::StrCat("UNKNOWN_", file_type);
}

absl::StatusOr<uint32_t> LlamaFileTypeFromName(absl::string_view name) {
  std::string upper = absl::AsciiStrToUpper(name);
  if (absl::StartsWith(upper, "LLAMA_FTYPE_")) upper = upper.substr(12);
  // llama-quantize's aliases pick the _M mix.
  if (upper == "Q3_K" || upper == "Q4_K" || upper == "Q5_K") {
    upper += "_M";
  }
  for (const auto& [id, known] : FileTypes()) {
    absl::string_view k = known;
    if (k == upper) return id;
    if (absl::ConsumePrefix(&k, "MOSTLY_") || absl::ConsumePrefix(&k, "ALL_")) {
      if (k == upper) return id;
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown llama file type '", name, "'"));
}

}  // namespace cohort::worker::quant
