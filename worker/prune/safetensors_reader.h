// File: safetensors_reader.h
//
// Reading safetensors files (docs/pruning.md §5): the header is parsed and
// validated like the reference reader does, with errors that name the file
// and the tensor; tensor bytes stay on disk behind a read-only mapping.
//
//   COHORT_ASSIGN_OR_RETURN(auto file, SafetensorsFile::Open(path));
//   for (const TensorInfo& t : file->header().tensors) Use(file->Data(t));
//
// Validation (all kInvalidArgument unless said otherwise):
//   - file shorter than 8 bytes, header length N > 100,000,000 or running
//     past the end of the file;
//   - header not a JSON object, duplicate names, `__metadata__` not a
//     str->str object, an entry without dtype/shape/data_offsets;
//   - unknown dtype, negative or non-integer shape/offsets;
//   - offsets that do not tile [0, data size) exactly (gap, overlap, begin >
//     end, last end != file size - 8 - N: a truncated or padded file);
//   - end - begin != prod(shape) x element size, or a bit count that is not a
//     whole number of bytes (F4/F6), or an overflow.
// Open() failures of the OS (missing file: kNotFound) keep the errno code.
#ifndef COHORT_WORKER_PRUNE_SAFETENSORS_READER_H_
#define COHORT_WORKER_PRUNE_SAFETENSORS_READER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "worker/prune/safetensors_dtype.h"

namespace cohort::worker::prune {

inline constexpr uint64_t kMaxHeaderBytes = 100000000;

struct TensorInfo {
  std::string name;
  Dtype dtype = Dtype::kU8;
  std::vector<uint64_t> shape;
  uint64_t begin = 0;  // relative to the first byte after the header
  uint64_t end = 0;
  uint64_t size() const { return end - begin; }
};

struct SafetensorsHeader {
  bool has_metadata = false;
  // `__metadata__` in file order.
  std::vector<std::pair<std::string, std::string>> metadata;
  // Sorted by data offset (the reference reader's order).
  std::vector<TensorInfo> tensors;
};

// Parses and validates the JSON header of `file` (only used in messages)
// whose data section holds `data_size` bytes.
absl::StatusOr<SafetensorsHeader> ParseSafetensorsHeader(
    absl::string_view json, uint64_t data_size, const std::string& file);

// A memory-mapped, validated safetensors file. Not thread-safe.
class SafetensorsFile {
 public:
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> Open(
      const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  const SafetensorsHeader& header() const { return header_; }
  // nullptr when absent.
  const TensorInfo* Find(absl::string_view name) const;
  // The tensor's bytes inside the mapping.
  absl::string_view Data(const TensorInfo& tensor) const;
  // Bytes [offset, offset + size) of the file (caller keeps it in range).
  absl::string_view Bytes(uint64_t offset, uint64_t size) const {
    return absl::string_view(map_ + offset, size);
  }
  // Offset of the tensor's first byte in the file (for copy_file_range).
  uint64_t FileOffset(const TensorInfo& tensor) const {
    return data_start_ + tensor.begin;
  }
  int fd() const { return fd_; }
  uint64_t file_size() const { return file_size_; }
  // Drops mapped pages of [offset, offset + size) of the file from this
  // process (MADV_DONTNEED), so RSS stays flat while streaming.
  void Release(uint64_t offset, uint64_t size) const;

 private:
  SafetensorsFile() = default;

  std::string path_;
  int fd_ = -1;
  const char* map_ = nullptr;
  uint64_t file_size_ = 0;
  uint64_t data_start_ = 0;
  SafetensorsHeader header_;
  std::vector<std::pair<absl::string_view, size_t>> by_name_;  // sorted
};

}  // namespace cohort::worker::prune

#endif  // COHORT_WORKER_PRUNE_SAFETENSORS_READER_H_
