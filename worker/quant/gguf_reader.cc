#include "worker/quant/gguf_reader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <limits>
#include <numeric>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/errno_status.h"
#include "common/status_macros.h"

namespace cohort::worker::quant {
namespace {

// Bounds-checked little-endian reads over the file's bytes. Every read names
// the field it is reading, so an error says what was being read and where.
class Cursor {
 public:
  Cursor(absl::string_view bytes, const std::string& file)
      : bytes_(bytes), file_(file) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return bytes_.size() - pos_; }

  absl::Status Error(absl::StatusCode code, uint64_t at,
                     absl::string_view field, absl::string_view problem) const {
    return absl::Status(
        code, absl::StrCat(file_, ": byte ", at, ": ", field, ": ", problem));
  }
  absl::Status Invalid(uint64_t at, absl::string_view field,
                       absl::string_view problem) const {
    return Error(absl::StatusCode::kInvalidArgument, at, field, problem);
  }
  absl::Status Truncated(uint64_t at, absl::string_view field,
                         uint64_t need) const {
    return Error(
        absl::StatusCode::kDataLoss, at, field,
        absl::StrCat("needs ", need, " bytes but the file has ",
                     bytes_.size() - std::min<uint64_t>(at, bytes_.size()),
                     " left (size ", bytes_.size(), ")"));
  }

  absl::StatusOr<absl::string_view> Bytes(uint64_t n, absl::string_view field) {
    if (n > remaining()) return Truncated(pos_, field, n);
    absl::string_view out = bytes_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  absl::StatusOr<uint64_t> Uint(uint32_t size, absl::string_view field) {
    COHORT_ASSIGN_OR_RETURN(absl::string_view b, Bytes(size, field));
    uint64_t v = 0;
    for (uint32_t i = 0; i < size; ++i) {
      v |= static_cast<uint64_t>(static_cast<unsigned char>(b[i])) << (8 * i);
    }
    return v;
  }
  absl::StatusOr<uint32_t> U32(absl::string_view field) {
    COHORT_ASSIGN_OR_RETURN(uint64_t v, Uint(4, field));
    return static_cast<uint32_t>(v);
  }
  absl::StatusOr<uint64_t> U64(absl::string_view field) {
    return Uint(8, field);
  }
  // A GGUF string: u64 length, then that many bytes (no terminator).
  absl::StatusOr<std::string> String(absl::string_view field) {
    uint64_t at = pos_;
    COHORT_ASSIGN_OR_RETURN(uint64_t length, U64(field));
    if (length > remaining()) {
      return Error(absl::StatusCode::kDataLoss, at, field,
                   absl::StrCat("string length ", length, " exceeds the ",
                                remaining(), " bytes left in the file"));
    }
    COHORT_ASSIGN_OR_RETURN(absl::string_view b, Bytes(length, field));
    return std::string(b);
  }

 private:
  absl::string_view bytes_;
  const std::string& file_;
  uint64_t pos_ = 0;
};

absl::StatusOr<GgufValue> ReadValue(Cursor& in, GgufType type, int depth,
                                    const std::string& field);

absl::StatusOr<GgufType> ReadType(Cursor& in, const std::string& field) {
  uint64_t at = in.pos();
  COHORT_ASSIGN_OR_RETURN(uint32_t tag, in.U32(field));
  if (!IsGgufType(tag)) {
    return in.Invalid(at, field, absl::StrCat("unknown value type ", tag));
  }
  return static_cast<GgufType>(tag);
}

// An array value after its kArray tag: element type, count, elements.
absl::StatusOr<GgufValue> ReadArray(Cursor& in, int depth,
                                    const std::string& field) {
  if (depth >= kMaxArrayDepth) {
    return in.Invalid(
        in.pos(), field,
        absl::StrCat("arrays nested deeper than ", kMaxArrayDepth));
  }
  COHORT_ASSIGN_OR_RETURN(GgufType element, ReadType(in, field));
  uint64_t at = in.pos();
  COHORT_ASSIGN_OR_RETURN(uint64_t count, in.U64(field));
  // The smallest encoding of one element bounds the count before anything
  // is allocated: a flipped count must not reserve terabytes.
  uint32_t fixed = GgufFixedSize(element);
  uint64_t min_size = fixed != 0                     ? fixed
                      : element == GgufType::kString ? 8
                                                     : 12;
  if (count > in.remaining() / min_size) {
    return in.Error(absl::StatusCode::kDataLoss, at, field,
                    absl::StrCat("array of ", count, " ", GgufTypeName(element),
                                 " exceeds the ", in.remaining(),
                                 " bytes left in the file"));
  }
  if (fixed != 0) {
    COHORT_ASSIGN_OR_RETURN(absl::string_view b,
                            in.Bytes(count * fixed, field));
    return GgufValue::Packed(element, count, std::string(b));
  }
  if (element == GgufType::kString) {
    std::vector<std::string> items;
    items.reserve(count);
    for (uint64_t i = 0; i < count; ++i) {
      COHORT_ASSIGN_OR_RETURN(std::string s, in.String(field));
      items.push_back(std::move(s));
    }
    return GgufValue::StringArray(std::move(items));
  }
  std::vector<GgufValue> items;
  items.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    COHORT_ASSIGN_OR_RETURN(GgufValue v, ReadArray(in, depth + 1, field));
    items.push_back(std::move(v));
  }
  return GgufValue::Arrays(std::move(items));
}

absl::StatusOr<GgufValue> ReadValue(Cursor& in, GgufType type, int depth,
                                    const std::string& field) {
  if (type == GgufType::kArray) return ReadArray(in, depth, field);
  if (type == GgufType::kString) {
    COHORT_ASSIGN_OR_RETURN(std::string s, in.String(field));
    return GgufValue::String(std::move(s));
  }
  COHORT_ASSIGN_OR_RETURN(absl::string_view b,
                          in.Bytes(GgufFixedSize(type), field));
  return GgufValue::Packed(type, 1, std::string(b)).Element(0);
}

absl::Status ReadHeader(Cursor& in, GgufContents& out, uint64_t& n_tensors,
                        uint64_t& n_kv) {
  COHORT_ASSIGN_OR_RETURN(uint32_t magic, in.U32("magic"));
  if (magic != kGgufMagic) {
    return in.Invalid(0, "magic", "not a GGUF file (expected \"GGUF\")");
  }
  COHORT_ASSIGN_OR_RETURN(out.version, in.U32("version"));
  if ((out.version & 0xffff) == 0 && out.version != 0) {
    return in.Invalid(4, "version",
                      absl::StrCat(out.version,
                                   " looks byte-swapped: a "
                                   "big-endian GGUF is not supported"));
  }
  if (out.version < 2 || out.version > 3) {
    return in.Invalid(4, "version",
                      absl::StrCat("GGUF version ", out.version,
                                   " is not supported (only 2 and 3)"));
  }
  COHORT_ASSIGN_OR_RETURN(n_tensors, in.U64("tensor_count"));
  COHORT_ASSIGN_OR_RETURN(n_kv, in.U64("metadata_kv_count"));
  // Minimal encodings: a kv is >= 13 bytes, a tensor info >= 24.
  if (n_kv > in.remaining() / 13) {
    return in.Error(absl::StatusCode::kDataLoss, 16, "metadata_kv_count",
                    absl::StrCat(n_kv, " entries cannot fit in the ",
                                 in.remaining(), " bytes left"));
  }
  if (n_tensors > in.remaining() / 24) {
    return in.Error(absl::StatusCode::kDataLoss, 8, "tensor_count",
                    absl::StrCat(n_tensors, " tensor infos cannot fit in the ",
                                 in.remaining(), " bytes left"));
  }
  return absl::OkStatus();
}

// gguf_init_from_file accepts only a uint32 power of two here.
absl::Status CheckAlignment(const Cursor& in, uint64_t at,
                            const GgufValue& value, GgufContents& out) {
  std::optional<uint64_t> a = value.AsUint64();
  if (value.type() != GgufType::kUint32 || !a.has_value() || *a == 0 ||
      (*a & (*a - 1)) != 0) {
    return in.Invalid(at, "metadata 'general.alignment'",
                      "must be a uint32 power of two");
  }
  out.alignment = static_cast<uint32_t>(*a);
  return absl::OkStatus();
}

absl::Status ReadMetadata(Cursor& in, uint64_t n_kv, GgufContents& out) {
  absl::flat_hash_set<std::string> seen;
  for (uint64_t i = 0; i < n_kv; ++i) {
    uint64_t at = in.pos();
    std::string field = absl::StrCat("metadata key ", i);
    COHORT_ASSIGN_OR_RETURN(std::string key, in.String(field));
    if (key.empty()) return in.Invalid(at, field, "empty key");
    field = absl::StrCat("metadata '", key, "'");
    if (!seen.insert(key).second) return in.Invalid(at, field, "duplicate key");
    COHORT_ASSIGN_OR_RETURN(GgufType type, ReadType(in, field));
    COHORT_ASSIGN_OR_RETURN(GgufValue value, ReadValue(in, type, 0, field));
    if (key == "general.alignment") {
      COHORT_RETURN_IF_ERROR(CheckAlignment(in, at, value, out));
    }
    out.metadata.push_back({std::move(key), std::move(value)});
  }
  return absl::OkStatus();
}

absl::StatusOr<GgufTensorInfo> ReadTensorInfo(Cursor& in, uint64_t index) {
  GgufTensorInfo t;
  uint64_t at = in.pos();
  std::string field = absl::StrCat("tensor info ", index);
  COHORT_ASSIGN_OR_RETURN(t.name, in.String(field));
  if (t.name.empty() || t.name.size() > kGgufMaxNameBytes) {
    return in.Invalid(at, field,
                      absl::StrCat("name length ", t.name.size(),
                                   " is not in [1, ", kGgufMaxNameBytes, "]"));
  }
  field = absl::StrCat("tensor '", t.name, "'");
  at = in.pos();
  COHORT_ASSIGN_OR_RETURN(uint32_t n_dims, in.U32(field));
  if (n_dims > kGgufMaxDims) {
    return in.Invalid(at, field, absl::StrCat(n_dims, " dims (at most 4)"));
  }
  for (uint32_t d = 0; d < n_dims; ++d) {
    COHORT_ASSIGN_OR_RETURN(uint64_t n, in.U64(field));
    t.dims.push_back(n);
  }
  at = in.pos();
  COHORT_ASSIGN_OR_RETURN(t.type, in.U32(field));
  t.type_info = FindGgmlType(t.type);
  if (t.type_info == nullptr) {
    return in.Invalid(at, field,
                      absl::StrCat("unknown or removed ggml type ", t.type));
  }
  absl::StatusOr<uint64_t> bytes = TensorBytes(*t.type_info, t.dims);
  if (!bytes.ok()) {
    return in.Invalid(at, field, bytes.status().message());
  }
  t.bytes = *bytes;
  COHORT_ASSIGN_OR_RETURN(t.offset, in.U64(field));
  return t;
}

absl::Status ReadTensorInfos(Cursor& in, uint64_t n_tensors,
                             GgufContents& out) {
  absl::flat_hash_set<std::string> seen;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    uint64_t at = in.pos();
    COHORT_ASSIGN_OR_RETURN(GgufTensorInfo t, ReadTensorInfo(in, i));
    if (!seen.insert(t.name).second) {
      return in.Invalid(at, absl::StrCat("tensor '", t.name, "'"),
                        "duplicate tensor name");
    }
    out.tensors.push_back(std::move(t));
  }
  return absl::OkStatus();
}

uint64_t PadTo(uint64_t n, uint64_t alignment) {
  return n + (alignment - n % alignment) % alignment;
}

// Offsets: aligned, inside the file, not overlapping, and packed in info
// order (what gguf_init_from_file requires; a file that breaks this would
// fail later when llama-server loads it).
absl::Status CheckLayout(const Cursor& in, GgufContents& out) {
  const uint64_t size = out.file_size;
  const uint64_t data_size = size - std::min(size, out.data_offset);
  std::vector<size_t> order(out.tensors.size());
  std::iota(order.begin(), order.end(), 0);
  for (const GgufTensorInfo& t : out.tensors) {
    std::string field = absl::StrCat("tensor '", t.name, "'");
    if (t.offset % out.alignment != 0) {
      return in.Invalid(
          out.data_offset, field,
          absl::StrCat("offset ", t.offset,
                       " is not a multiple of the alignment ", out.alignment));
    }
    if (t.offset > data_size || t.bytes > data_size - t.offset) {
      return in.Error(absl::StatusCode::kDataLoss, out.data_offset + t.offset,
                      field,
                      absl::StrCat("data [", t.offset, ", +", t.bytes,
                                   ") runs past the end of the data section (",
                                   data_size, " bytes)"));
    }
    out.tensor_bytes += t.bytes;
  }
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return out.tensors[a].offset < out.tensors[b].offset;
  });
  for (size_t k = 1; k < order.size(); ++k) {
    const GgufTensorInfo& prev = out.tensors[order[k - 1]];
    const GgufTensorInfo& cur = out.tensors[order[k]];
    if (cur.offset < prev.offset + prev.bytes) {
      return in.Invalid(out.data_offset + cur.offset,
                        absl::StrCat("tensor '", cur.name, "'"),
                        absl::StrCat("overlaps tensor '", prev.name, "'"));
    }
  }
  uint64_t expected = 0;
  for (const GgufTensorInfo& t : out.tensors) {
    if (t.offset != expected) {
      return in.Invalid(
          out.data_offset + t.offset, absl::StrCat("tensor '", t.name, "'"),
          absl::StrCat("offset ", t.offset, ", expected ", expected,
                       " (tensors must be packed in "
                       "info order, each padded to the "
                       "alignment)"));
    }
    expected = PadTo(expected + t.bytes, out.alignment);
  }
  return absl::OkStatus();
}

}  // namespace

const GgufValue* GgufContents::Find(absl::string_view key) const {
  for (const GgufMetadataEntry& e : metadata) {
    if (e.key == key) return &e.value;
  }
  return nullptr;
}

const GgufTensorInfo* GgufContents::FindTensor(absl::string_view name) const {
  for (const GgufTensorInfo& t : tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

absl::StatusOr<GgufContents> ParseGguf(absl::string_view bytes,
                                       const std::string& file) {
  GgufContents out;
  out.file = file;
  out.file_size = bytes.size();
  Cursor in(bytes, out.file);
  uint64_t n_tensors = 0;
  uint64_t n_kv = 0;
  COHORT_RETURN_IF_ERROR(ReadHeader(in, out, n_tensors, n_kv));
  COHORT_RETURN_IF_ERROR(ReadMetadata(in, n_kv, out));
  COHORT_RETURN_IF_ERROR(ReadTensorInfos(in, n_tensors, out));
  out.data_offset = in.pos();
  if (n_tensors > 0) {
    out.data_offset = PadTo(in.pos(), out.alignment);
    if (out.data_offset > bytes.size()) {
      return in.Truncated(in.pos(), "padding before the data section",
                          out.data_offset - in.pos());
    }
  }
  COHORT_RETURN_IF_ERROR(CheckLayout(in, out));
  return out;
}

absl::StatusOr<GgufContents> ReadGgufFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoToStatus(errno, absl::StrCat("opening ", path));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    return ErrnoToStatus(err, absl::StrCat("stat ", path));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a regular file"));
  }
  size_t size = static_cast<size_t>(st.st_size);
  if (size == 0) {
    close(fd);
    return ParseGguf(absl::string_view(), path);
  }
  void* map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  int map_errno = errno;
  close(fd);
  if (map == MAP_FAILED) {
    return ErrnoToStatus(map_errno, absl::StrCat("mapping ", path));
  }
  absl::StatusOr<GgufContents> parsed =
      ParseGguf(absl::string_view(static_cast<const char*>(map), size), path);
  munmap(map, size);
  return parsed;
}

}  // namespace cohort::worker::quant
