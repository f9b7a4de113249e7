#include "worker/prune/safetensors_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/str_cat.h"
#include "common/atomic_file.h"
#include "common/errno_status.h"
#include "common/status_macros.h"

namespace cohort::worker::prune {
namespace {

constexpr size_t kBufferBytes = size_t{4} << 20;
// Start writeback every 64 MiB so the final fsync does not stall on the
// whole shard.
constexpr uint64_t kWritebackWindow = uint64_t{64} << 20;
constexpr size_t kCopyChunk = size_t{1} << 30;

bool KernelCopyUnsupported(int error) {
  return error == EXDEV || error == EINVAL || error == ENOSYS ||
         error == EOPNOTSUPP || error == EBADF || error == ETXTBSY;
}

void AppendShape(std::string& out, const std::vector<uint64_t>& shape) {
  out += '[';
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += ',';
    absl::StrAppend(&out, shape[i]);
  }
  out += ']';
}

}  // namespace

ShardSink::ShardSink(int fd, std::string path)
    : fd_(fd), path_(std::move(path)), buffer_(kBufferBytes) {}

ShardSink::~ShardSink() = default;

absl::Status ShardSink::WriteAll(const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = write(fd_, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoToStatus(errno, absl::StrCat("writing ", path_));
    if (n == 0) {
      return absl::ResourceExhaustedError(
          absl::StrCat("writing ", path_, ": short write (disk full?)"));
    }
    data += n;
    size -= static_cast<size_t>(n);
    written_ += static_cast<uint64_t>(n);
  }
  KickWriteback();
  return absl::OkStatus();
}

void ShardSink::KickWriteback() {
  if (written_ - synced_ < kWritebackWindow) return;
  sync_file_range(fd_, static_cast<off64_t>(synced_),
                  static_cast<off64_t>(written_ - synced_),
                  SYNC_FILE_RANGE_WRITE);
  synced_ = written_;
}

absl::Status ShardSink::Flush() {
  if (used_ == 0) return absl::OkStatus();
  size_t n = used_;
  used_ = 0;
  return WriteAll(buffer_.data(), n);
}

absl::Status ShardSink::Append(const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  if (used_ + size > buffer_.size()) {
    COHORT_RETURN_IF_ERROR(Flush());
    if (size >= buffer_.size()) return WriteAll(p, size);
  }
  std::copy(p, p + size, buffer_.data() + used_);
  used_ += size;
  return absl::OkStatus();
}

absl::Status ShardSink::CopyFrom(const SafetensorsFile& file, uint64_t offset,
                                 uint64_t size) {
  COHORT_RETURN_IF_ERROR(Flush());
  loff_t in_offset = static_cast<loff_t>(offset);
  while (size > 0) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(size, kCopyChunk));
    ssize_t n = copy_file_range(file.fd(), &in_offset, fd_, nullptr, want, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && KernelCopyUnsupported(errno)) {
      break;  // fall back to a user-space copy for the rest
    }
    if (n < 0) {
      return ErrnoToStatus(errno, absl::StrCat("copying ", file.path(),
                                               " into ", path_));
    }
    if (n == 0) {
      return absl::DataLossError(absl::StrCat(file.path(),
                                              ": unexpected end of file"));
    }
    size -= static_cast<uint64_t>(n);
    written_ += static_cast<uint64_t>(n);
    KickWriteback();
  }
  if (size == 0) return absl::OkStatus();
  return AppendTransformed(file, static_cast<uint64_t>(in_offset), size, 1,
                           nullptr);
}

absl::Status ShardSink::AppendTransformed(const SafetensorsFile& file,
                                          uint64_t offset, uint64_t size,
                                          size_t granule,
                                          const Transform& transform) {
  COHORT_RETURN_IF_ERROR(Flush());
  const size_t chunk = buffer_.size() / granule * granule;
  while (size > 0) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(size, chunk));
    const char* in = file.Bytes(offset, n).data();
    if (transform) {
      transform(in, buffer_.data(), n);
    } else {
      std::copy(in, in + n, buffer_.data());
    }
    COHORT_RETURN_IF_ERROR(WriteAll(buffer_.data(), n));
    file.Release(offset, n);
    offset += n;
    size -= n;
  }
  return absl::OkStatus();
}

void SortForLayout(std::vector<OutputTensor>& tensors) {
  std::sort(tensors.begin(), tensors.end(),
            [](const OutputTensor& a, const OutputTensor& b) {
              if (a.dtype != b.dtype) return a.dtype > b.dtype;
              return a.name < b.name;
            });
}

std::string SerdeJsonString(absl::string_view text) {
  static const char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (char c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (u < 0x20) {
          out += "\\u00";
          out += kHex[u >> 4];
          out += kHex[u & 0xF];
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

std::string BuildSafetensorsHeader(const std::optional<ShardMetadata>& metadata,
                                   const std::vector<OutputTensor>& tensors) {
  std::string json = "{";
  bool first = true;
  if (metadata.has_value()) {
    json += "\"__metadata__\":{";
    for (size_t i = 0; i < metadata->size(); ++i) {
      if (i > 0) json += ',';
      json += SerdeJsonString((*metadata)[i].first) + ":" +
              SerdeJsonString((*metadata)[i].second);
    }
    json += '}';
    first = false;
  }
  uint64_t offset = 0;
  for (const OutputTensor& t : tensors) {
    if (!first) json += ',';
    first = false;
    json += SerdeJsonString(t.name);
    absl::StrAppend(&json, ":{\"dtype\":\"", DtypeName(t.dtype),
                    "\",\"shape\":");
    AppendShape(json, t.shape);
    absl::StrAppend(&json, ",\"data_offsets\":[", offset, ",",
                    offset + t.nbytes, "]}");
    offset += t.nbytes;
  }
  json += '}';
  json.append((8 - json.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return out + json;
}

absl::Status WriteSafetensorsFile(const std::string& path,
                                  const std::optional<ShardMetadata>& metadata,
                                  std::vector<OutputTensor> tensors) {
  SortForLayout(tensors);
  AtomicFileWriter writer;
  COHORT_RETURN_IF_ERROR(writer.Open(path));
  COHORT_RETURN_IF_ERROR(writer.Append(BuildSafetensorsHeader(metadata, tensors)));
  ShardSink sink(writer.fd(), path);
  for (const OutputTensor& t : tensors) {
    uint64_t before = sink.written();
    COHORT_RETURN_IF_ERROR(Annotate(t.write(sink), absl::StrCat("tensor ", t.name)));
    COHORT_RETURN_IF_ERROR(sink.Flush());
    if (sink.written() - before != t.nbytes) {
      return absl::InternalError(absl::StrCat(
          path, ": tensor ", t.name, " wrote ", sink.written() - before,
          " bytes, header says ", t.nbytes));
    }
  }
  return writer.Commit();
}

OutputTensor CopiedTensor(const SafetensorsFile& file, const TensorInfo& tensor,
                          std::string out_name) {
  OutputTensor out;
  out.name = std::move(out_name);
  out.dtype = tensor.dtype;
  out.shape = tensor.shape;
  out.nbytes = tensor.size();
  const SafetensorsFile* source = &file;
  uint64_t offset = file.FileOffset(tensor);
  uint64_t size = tensor.size();
  out.write = [source, offset, size](ShardSink& sink) {
    return sink.CopyFrom(*source, offset, size);
  };
  return out;
}

}  // namespace cohort::worker::prune
