// File: gguf_summary.h
//
// What cohort checks about a GGUF before spending GPU hours on it: which
// architecture it is, which quantization tier, how many experts per layer
// (after pruning, the converter must have picked up the reduced count), and
// the tensor inventory.
//
//   COHORT_ASSIGN_OR_RETURN(GgufContents gguf, ReadGgufFile(path));
//   COHORT_ASSIGN_OR_RETURN(GgufSummary summary, SummarizeGguf(gguf));
//   GgufExpectations want;
//   want.architecture = "gemma4";
//   want.expert_count = 98;
//   want.expert_count_source = "the pruned count";
//   want.file_type = "Q6_K";
//   COHORT_RETURN_IF_ERROR(VerifyGguf(summary, want));
//   // kFailedPrecondition: "model-Q6_K.gguf: expert_count is 128, expected
//   // 98 (the pruned count)"
#ifndef COHORT_WORKER_QUANT_GGUF_SUMMARY_H_
#define COHORT_WORKER_QUANT_GGUF_SUMMARY_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "worker/quant/gguf_reader.h"

namespace cohort::worker::quant {

struct GgufSummary {
  std::string file;
  uint32_t version = 0;
  std::string architecture;  // general.architecture; "" when absent
  std::string general_type;  // general.type ("model", "imatrix"); may be ""
  std::optional<uint32_t> file_type;  // general.file_type
  std::string file_type_name;         // "MOSTLY_Q6_K"; "" when absent
  // <architecture>.expert_count etc.; nullopt when absent.
  std::optional<uint64_t> expert_count;
  std::optional<uint64_t> expert_used_count;
  std::optional<uint64_t> block_count;
  uint64_t tensor_count = 0;
  uint64_t tensor_bytes = 0;
  uint64_t parameters = 0;  // elements of every tensor, as llama.cpp counts n_params
  // tensor_bytes * 8 / parameters: llama.cpp's "BPW" of a model (0 when empty).
  double BitsPerWeight() const {
    return parameters == 0 ? 0.0 : static_cast<double>(tensor_bytes) * 8.0 / parameters;
  }
  // ggml type name ("q6_K") -> number of tensors of that type.
  std::map<std::string, uint64_t> tensor_types;
};

// Reads the summary keys. Returns kInvalidArgument naming the file and key
// when a key is present with the wrong type (general.architecture not a
// string, an expert count that is negative or not an integer).
absl::StatusOr<GgufSummary> SummarizeGguf(const GgufContents& gguf);

struct GgufExpectations {
  std::string architecture;  // REQUIRED
  uint64_t expert_count = 0;
  // Said in parentheses after the expected count ("the pruned count").
  std::string expert_count_source;
  std::optional<uint64_t> tensor_count;
  // "Q6_K", "MOSTLY_Q6_K", "BF16", "F32" ... (see LlamaFileTypeFromName).
  std::optional<std::string> file_type;
};

// Compares and returns kFailedPrecondition listing every mismatch, each as
// "<file name>: <what> is <got>, expected <want>" joined with "; " (a
// missing key reads "is missing"). kInvalidArgument when the expectations
// themselves are unusable (empty architecture, unknown file type name).
absl::Status VerifyGguf(const GgufSummary& summary,
                        const GgufExpectations& expected);

}  // namespace cohort::worker::quant

#endif  // COHORT_WORKER_QUANT_GGUF_SUMMARY_H_
