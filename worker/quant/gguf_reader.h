// File: gguf_reader.h
//
// Reading GGUF files (llama.cpp's model format, versions 2 and 3), header
// only: the metadata key/values and the tensor infos are parsed and checked;
// tensor bytes are never read. A GGUF file is laid out as
//
//   "GGUF" | u32 version | u64 tensor_count | u64 kv_count
//   kv_count x (string key, u32 type, value)         strings: u64 len + bytes
//   tensor_count x (string name, u32 n_dims, u64 dims[n_dims], u32 ggml type,
//                   u64 offset)                      offset: from data start
//   padding to general.alignment (default 32)        data section
//
// all little-endian.
//
//   COHORT_ASSIGN_OR_RETURN(GgufContents gguf, ReadGgufFile(path));
//   const GgufValue* arch = gguf.Find("general.architecture");
//
// Validation (nothing is trusted; every error names the file, the byte
// offset of the field and the field):
//   kDataLoss        the file ends inside a field, or a count / length says
//                    more bytes follow than the file has, or a tensor's data
//                    runs past the end of the file (a truncated download);
//   kInvalidArgument bad magic; version 1, 0, > 3 or big-endian; an unknown
//                    value type; an empty or duplicate key; arrays nested
//                    deeper than kMaxArrayDepth; general.alignment not a
//                    uint32 power of two; a tensor name empty, >= 64 bytes
//                    or duplicate; more than 4 dims; a dim >= 2^63; an
//                    unknown or removed ggml type; a row length that is not
//                    a multiple of the type's block size; a byte size
//                    overflow; an offset not a multiple of the alignment;
//                    overlapping tensors; tensors not packed in info order
//                    (each padded to the alignment), which llama.cpp's
//                    gguf_init_from_file refuses too.
// Open failures keep the errno mapping (missing file: kNotFound).
// Memory: proportional to the metadata (tokenizer tables are copied), never
// to the tensor data.
#ifndef COHORT_WORKER_QUANT_GGUF_READER_H_
#define COHORT_WORKER_QUANT_GGUF_READER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "worker/quant/ggml_types.h"
#include "worker/quant/gguf_value.h"

namespace cohort::worker::quant {

inline constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" little-endian
inline constexpr uint32_t kGgufDefaultAlignment = 32;
inline constexpr uint32_t kGgufMaxDims = 4;        // GGML_MAX_DIMS
inline constexpr uint32_t kGgufMaxNameBytes = 63;  // GGML_MAX_NAME - 1
inline constexpr int kMaxArrayDepth = 4;           // array of array of ...

struct GgufMetadataEntry {
  std::string key;
  GgufValue value;
};

struct GgufTensorInfo {
  std::string name;
  std::vector<uint64_t> dims;  // ggml order: dims[0] is the row length
  uint32_t type = 0;           // ggml type id
  const GgmlTypeInfo* type_info = nullptr;  // never null once parsed
  uint64_t offset = 0;  // from the start of the data section
  uint64_t bytes = 0;   // from the type table, without padding
};

struct GgufContents {
  std::string file;  // as given; used in messages
  uint64_t file_size = 0;
  uint32_t version = 0;
  uint32_t alignment = kGgufDefaultAlignment;
  uint64_t data_offset = 0;   // absolute offset of the data section
  uint64_t tensor_bytes = 0;  // sum of tensor bytes (no padding)
  std::vector<GgufMetadataEntry> metadata;  // file order
  std::vector<GgufTensorInfo> tensors;      // file order

  // nullptr when absent.
  const GgufValue* Find(absl::string_view key) const;
  const GgufTensorInfo* FindTensor(absl::string_view name) const;
};

// Parses the GGUF file whose bytes are `bytes` (its header at least; the
// tensor bounds are checked against bytes.size()). `file` names it in
// messages. Never crashes on any input.
absl::StatusOr<GgufContents> ParseGguf(absl::string_view bytes,
                                       const std::string& file);

// Maps `path` read-only, parses it and unmaps it.
absl::StatusOr<GgufContents> ReadGgufFile(const std::string& path);

}  // namespace cohort::worker::quant

#endif  // COHORT_WORKER_QUANT_GGUF_READER_H_
