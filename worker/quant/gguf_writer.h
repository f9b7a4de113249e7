// File: gguf_writer.h
//
// Writes valid GGUF files (v3, or v2 on request) for tests and fakes: the
// metadata in insertion order, then tensor infos, then each tensor's bytes
// padded to the alignment, as gguf-py and llama-quantize lay them out. The
// tensor bytes are zeros or a deterministic pattern; nothing here quantizes.
// Production code reads GGUF (gguf_reader.h) and never writes it.
//
//   GgufWriter w;
//   w.SetString("general.architecture", "gemma4");
//   w.Set("gemma4.expert_count", GgufValue::U32(98));
//   COHORT_RETURN_IF_ERROR(w.AddTensor("blk.0.ffn_down_exps.weight",
//                                      kGgmlQ6_K, {704, 2816, 98}));
//   COHORT_RETURN_IF_ERROR(w.WriteFile(path));   // atomic
//
// Not thread-safe.
#ifndef COHORT_WORKER_QUANT_GGUF_WRITER_H_
#define COHORT_WORKER_QUANT_GGUF_WRITER_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "worker/quant/ggml_types.h"
#include "worker/quant/gguf_value.h"

namespace cohort::worker::quant {

enum class TensorFill { kZeros, kPattern };

class GgufWriter {
 public:
  explicit GgufWriter(uint32_t version = 3) : version_(version) {}

  // Adds or replaces (keeping its position) a metadata value. Setting
  // general.alignment (a uint32) changes the padding used.
  void Set(const std::string& key, GgufValue value);
  void SetString(const std::string& key, std::string value) {
    Set(key, GgufValue::String(std::move(value)));
  }

  // Adds a tensor info (ggml dims, dims[0] the row length). Returns
  // kInvalidArgument for an unknown type, a duplicate name or a row length
  // that is not a multiple of the block size.
  [[nodiscard]] absl::Status AddTensor(const std::string& name,
                                       uint32_t ggml_type,
                                       std::vector<uint64_t> dims,
                                       TensorFill fill = TensorFill::kZeros);

  // The whole file in memory (small test files).
  absl::StatusOr<std::string> Serialize() const;
  // Streams the file to `path` through AtomicFileWriter.
  [[nodiscard]] absl::Status WriteFile(const std::string& path) const;

 private:
  struct Tensor {
    std::string name;
    uint32_t type;
    std::vector<uint64_t> dims;
    uint64_t bytes;
    TensorFill fill;
  };
  uint32_t Alignment() const;
  // Header, metadata, tensor infos and the padding up to the data section.
  std::string Header() const;

  uint32_t version_;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::vector<Tensor> tensors_;
};

// Appends one value's encoding (without its type tag) to `out`.
void AppendGgufValue(const GgufValue& value, std::string* out);

}  // namespace cohort::worker::quant

#endif  // COHORT_WORKER_QUANT_GGUF_WRITER_H_
