// File: safetensors_writer.h
//
// Streaming safetensors writer that reproduces the reference layout byte for
// byte (docs/pruning.md §5): tensors sorted by dtype descending in the enum
// order of safetensors_dtype.h, then by name (bytes); compact JSON header with
// `__metadata__` first and entry keys dtype, shape, data_offsets; header
// padded with spaces to a multiple of 8. Tensor bytes are never held whole in
// memory: each tensor is produced by a callback that streams into a
// ShardSink (kernel copy from an input file, or buffered appends).
#ifndef COHORT_WORKER_PRUNE_SAFETENSORS_WRITER_H_
#define COHORT_WORKER_PRUNE_SAFETENSORS_WRITER_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "worker/prune/safetensors_dtype.h"
#include "worker/prune/safetensors_reader.h"

namespace cohort::worker::prune {

using ShardMetadata = std::vector<std::pair<std::string, std::string>>;

// Where tensor bytes go. Not thread-safe; used by one writer at a time.
class ShardSink {
 public:
  ShardSink(int fd, std::string path);
  ~ShardSink();
  ShardSink(const ShardSink&) = delete;
  ShardSink& operator=(const ShardSink&) = delete;

  // Buffered append. kResourceExhausted on a full disk (ENOSPC/EFBIG).
  [[nodiscard]] absl::Status Append(const void* data, size_t size);
  // Copies [offset, offset + size) of `file` with copy_file_range (falls
  // back to pread/write where the kernel cannot), without touching user
  // memory.
  [[nodiscard]] absl::Status CopyFrom(const SafetensorsFile& file,
                                      uint64_t offset, uint64_t size);
  // Appends transform(input) for [offset, offset + size) of `file`, read
  // through the mapping in chunks that are a multiple of `granule` bytes;
  // mapped pages are released after each chunk.
  using Transform = std::function<void(const char* in, char* out, size_t n)>;
  [[nodiscard]] absl::Status AppendTransformed(const SafetensorsFile& file,
                                               uint64_t offset, uint64_t size,
                                               size_t granule,
                                               const Transform& transform);
  [[nodiscard]] absl::Status Flush();
  uint64_t written() const { return written_; }

 private:
  absl::Status WriteAll(const char* data, size_t size);
  void KickWriteback();

  int fd_;
  std::string path_;
  std::vector<char> buffer_;
  size_t used_ = 0;
  uint64_t written_ = 0;  // bytes handed to the kernel
  uint64_t synced_ = 0;   // bytes whose writeback was started
};

// One tensor of an output file. `write` must append exactly `nbytes`.
struct OutputTensor {
  std::string name;
  Dtype dtype = Dtype::kU8;
  std::vector<uint64_t> shape;
  uint64_t nbytes = 0;
  std::function<absl::Status(ShardSink&)> write;
};

// Sorts into the reference layout order (dtype descending, then name).
void SortForLayout(std::vector<OutputTensor>& tensors);

// The full header (8-byte length, JSON, space padding) for `tensors`, which
// must already be in layout order.
std::string BuildSafetensorsHeader(const std::optional<ShardMetadata>& metadata,
                                   const std::vector<OutputTensor>& tensors);

// JSON string literal as serde_json writes it (UTF-8 kept, control
// characters escaped).
std::string SerdeJsonString(absl::string_view text);

// Writes `tensors` (any order; sorted here) to `path` atomically: a
// temporary sibling renamed into place only after every byte is written and
// fsync'ed. Errors name the path and the tensor being written.
[[nodiscard]] absl::Status WriteSafetensorsFile(
    const std::string& path, const std::optional<ShardMetadata>& metadata,
    std::vector<OutputTensor> tensors);

// An OutputTensor that copies `tensor` of `file` unchanged.
OutputTensor CopiedTensor(const SafetensorsFile& file, const TensorInfo& tensor,
                          std::string out_name);

}  // namespace cohort::worker::prune

#endif  // COHORT_WORKER_PRUNE_SAFETENSORS_WRITER_H_
