#include "worker/quant/gguf_writer.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/atomic_file.h"
#include "common/status_macros.h"
#include "worker/quant/gguf_reader.h"

namespace cohort::worker::quant {
namespace {

void PutUint(uint64_t v, int size, std::string* out) {
  for (int i = 0; i < size; ++i) {
    out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
}

void PutString(const std::string& s, std::string* out) {
  PutUint(s.size(), 8, out);
  out->append(s);
}

void PutScalar(const GgufValue& v, std::string* out) {
  int size = static_cast<int>(GgufFixedSize(v.type()));
  if (v.type() == GgufType::kFloat32) {
    float f = static_cast<float>(*v.AsDouble());
    uint32_t bits;
    std::memcpy(&bits, &f, sizeof(bits));
    PutUint(bits, 4, out);
  } else if (v.type() == GgufType::kFloat64) {
    double d = *v.AsDouble();
    uint64_t bits;
    std::memcpy(&bits, &d, sizeof(bits));
    PutUint(bits, 8, out);
  } else if (v.type() == GgufType::kBool) {
    PutUint(*v.AsBool() ? 1 : 0, 1, out);
  } else if (std::optional<uint64_t> u = v.AsUint64()) {
    PutUint(*u, size, out);
  } else {
    PutUint(static_cast<uint64_t>(*v.AsInt64()), size, out);
  }
}

uint64_t PadTo(uint64_t n, uint64_t alignment) {
  return n + (alignment - n % alignment) % alignment;
}

// Deterministic non-zero bytes, so a test can tell tensors apart.
char PatternByte(uint64_t i) { return static_cast<char>((i * 131 + 7) % 251); }

}  // namespace

void AppendGgufValue(const GgufValue& value, std::string* out) {
  if (const std::string* s = value.AsString()) {
    PutString(*s, out);
    return;
  }
  if (!value.is_array()) {
    PutScalar(value, out);
    return;
  }
  PutUint(static_cast<uint32_t>(value.element_type()), 4, out);
  PutUint(value.size(), 8, out);
  if (value.element_type() == GgufType::kString) {
    for (const std::string& s : value.strings()) PutString(s, out);
  } else if (value.element_type() == GgufType::kArray) {
    for (const GgufValue& item : value.arrays()) AppendGgufValue(item, out);
  } else {
    out->append(value.packed());
  }
}

void GgufWriter::Set(const std::string& key, GgufValue value) {
  for (auto& [k, v] : metadata_) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  metadata_.emplace_back(key, std::move(value));
}

absl::Status GgufWriter::AddTensor(const std::string& name, uint32_t ggml_type,
                                   std::vector<uint64_t> dims,
                                   TensorFill fill) {
  const GgmlTypeInfo* type = FindGgmlType(ggml_type);
  if (type == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("GgufWriter: unknown ggml type ", ggml_type));
  }
  for (const Tensor& t : tensors_) {
    if (t.name == name) {
      return absl::InvalidArgumentError(
          absl::StrCat("GgufWriter: duplicate tensor ", name));
    }
  }
  COHORT_ASSIGN_OR_RETURN(uint64_t bytes, TensorBytes(*type, dims));
  tensors_.push_back({name, ggml_type, std::move(dims), bytes, fill});
  return absl::OkStatus();
}

uint32_t GgufWriter::Alignment() const {
  for (const auto& [k, v] : metadata_) {
    if (k == "general.alignment" && v.AsUint64().value_or(0) != 0) {
      return static_cast<uint32_t>(*v.AsUint64());
    }
  }
  return kGgufDefaultAlignment;
}

std::string GgufWriter::Header() const {
  std::string out;
  PutUint(kGgufMagic, 4, &out);
  PutUint(version_, 4, &out);
  PutUint(tensors_.size(), 8, &out);
  PutUint(metadata_.size(), 8, &out);
  for (const auto& [key, value] : metadata_) {
    PutString(key, &out);
    PutUint(static_cast<uint32_t>(value.type()), 4, &out);
    AppendGgufValue(value, &out);
  }
  uint64_t offset = 0;
  for (const Tensor& t : tensors_) {
    PutString(t.name, &out);
    PutUint(t.dims.size(), 4, &out);
    for (uint64_t d : t.dims) PutUint(d, 8, &out);
    PutUint(t.type, 4, &out);
    PutUint(offset, 8, &out);
    offset = PadTo(offset + t.bytes, Alignment());
  }
  if (!tensors_.empty()) out.resize(PadTo(out.size(), Alignment()), '\0');
  return out;
}

absl::StatusOr<std::string> GgufWriter::Serialize() const {
  std::string out = Header();
  for (const Tensor& t : tensors_) {
    for (uint64_t i = 0; i < t.bytes; ++i) {
      out.push_back(t.fill == TensorFill::kZeros ? '\0' : PatternByte(i));
    }
    out.resize(PadTo(out.size(), Alignment()), '\0');
  }
  return out;
}

absl::Status GgufWriter::WriteFile(const std::string& path) const {
  AtomicFileWriter writer;
  COHORT_RETURN_IF_ERROR(writer.Open(path));
  COHORT_RETURN_IF_ERROR(writer.Append(Header()));
  std::string chunk;
  for (const Tensor& t : tensors_) {
    uint64_t padded = PadTo(t.bytes, Alignment());
    for (uint64_t done = 0; done < padded;) {
      uint64_t n = std::min<uint64_t>(padded - done, 1 << 20);
      chunk.assign(n, '\0');
      for (uint64_t i = 0; i < n && done + i < t.bytes; ++i) {
        if (t.fill == TensorFill::kPattern) chunk[i] = PatternByte(done + i);
      }
      COHORT_RETURN_IF_ERROR(writer.Append(chunk));
      done += n;
    }
  }
  return writer.Commit();
}

}  // namespace cohort::worker::quant
