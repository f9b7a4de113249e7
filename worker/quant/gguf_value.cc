#include "worker/quant/gguf_value.h"

#include <cstring>
#include <limits>
#include <utility>

namespace cohort::worker::quant {
namespace {

bool IsSigned(GgufType t) {
  return t == GgufType::kInt8 || t == GgufType::kInt16 ||
         t == GgufType::kInt32 || t == GgufType::kInt64;
}

uint64_t LoadLittleEndian(const char* p, uint32_t size) {
  uint64_t v = 0;
  for (uint32_t i = 0; i < size; ++i) {
    v |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  }
  return v;
}

void StoreLittleEndian(uint64_t v, uint32_t size, std::string* out) {
  for (uint32_t i = 0; i < size; ++i) {
    out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
}

template <typename T>
GgufValue PackVector(GgufType type, const std::vector<T>& items) {
  std::string packed;
  packed.reserve(items.size() * sizeof(T));
  for (T item : items) {
    uint64_t bits = 0;
    std::memcpy(&bits, &item, sizeof(T));  // host is little-endian (x86/arm)
    StoreLittleEndian(bits, sizeof(T), &packed);
  }
  return GgufValue::Packed(type, items.size(), std::move(packed));
}

}  // namespace

bool IsGgufType(uint32_t tag) { return tag <= 12; }

const char* GgufTypeName(GgufType type) {
  switch (type) {
    case GgufType::kUint8:
      return "uint8";
    case GgufType::kInt8:
      return "int8";
    case GgufType::kUint16:
      return "uint16";
    case GgufType::kInt16:
      return "int16";
    case GgufType::kUint32:
      return "uint32";
    case GgufType::kInt32:
      return "int32";
    case GgufType::kFloat32:
      return "float32";
    case GgufType::kBool:
      return "bool";
    case GgufType::kString:
      return "string";
    case GgufType::kArray:
      return "array";
    case GgufType::kUint64:
      return "uint64";
    case GgufType::kInt64:
      return "int64";
    case GgufType::kFloat64:
      return "float64";
  }
  return "unknown";
}

uint32_t GgufFixedSize(GgufType type) {
  switch (type) {
    case GgufType::kUint8:
    case GgufType::kInt8:
    case GgufType::kBool:
      return 1;
    case GgufType::kUint16:
    case GgufType::kInt16:
      return 2;
    case GgufType::kUint32:
    case GgufType::kInt32:
    case GgufType::kFloat32:
      return 4;
    case GgufType::kUint64:
    case GgufType::kInt64:
    case GgufType::kFloat64:
      return 8;
    case GgufType::kString:
    case GgufType::kArray:
      return 0;
  }
  return 0;
}

GgufValue GgufValue::Integer(GgufType type, int64_t v) {
  GgufValue value;
  value.type_ = type;
  uint32_t bits = GgufFixedSize(type) * 8;
  uint64_t raw = static_cast<uint64_t>(v);
  if (bits < 64) {
    raw &= (uint64_t{1} << bits) - 1;
    // Sign-extend so bits_ always holds the int64 value of a signed type.
    if (IsSigned(type) && (raw >> (bits - 1)) != 0) {
      raw |= ~((uint64_t{1} << bits) - 1);
    }
  }
  if (type == GgufType::kBool) raw = raw != 0;
  value.bits_ = raw;
  return value;
}

GgufValue GgufValue::U64(uint64_t v) {
  GgufValue value;
  value.type_ = GgufType::kUint64;
  value.bits_ = v;
  return value;
}

GgufValue GgufValue::F32(float v) {
  GgufValue value;
  value.type_ = GgufType::kFloat32;
  value.real_ = v;
  return value;
}

GgufValue GgufValue::F64(double v) {
  GgufValue value;
  value.type_ = GgufType::kFloat64;
  value.real_ = v;
  return value;
}

GgufValue GgufValue::String(std::string v) {
  GgufValue value;
  value.type_ = GgufType::kString;
  value.string_ = std::move(v);
  return value;
}

GgufValue GgufValue::Packed(GgufType element_type, uint64_t count,
                            std::string packed) {
  GgufValue value;
  value.type_ = GgufType::kArray;
  value.element_type_ = element_type;
  value.count_ = count;
  value.packed_ = std::move(packed);
  return value;
}

GgufValue GgufValue::StringArray(std::vector<std::string> items) {
  GgufValue value;
  value.type_ = GgufType::kArray;
  value.element_type_ = GgufType::kString;
  value.count_ = items.size();
  value.strings_ = std::move(items);
  return value;
}

GgufValue GgufValue::Arrays(std::vector<GgufValue> items) {
  GgufValue value;
  value.type_ = GgufType::kArray;
  value.element_type_ = GgufType::kArray;
  value.count_ = items.size();
  value.arrays_ = std::move(items);
  return value;
}

GgufValue GgufValue::U32Array(const std::vector<uint32_t>& items) {
  return PackVector(GgufType::kUint32, items);
}
GgufValue GgufValue::I32Array(const std::vector<int32_t>& items) {
  return PackVector(GgufType::kInt32, items);
}
GgufValue GgufValue::F32Array(const std::vector<float>& items) {
  return PackVector(GgufType::kFloat32, items);
}

bool GgufValue::is_integer() const {
  return GgufFixedSize(type_) != 0 && type_ != GgufType::kBool &&
         type_ != GgufType::kFloat32 && type_ != GgufType::kFloat64;
}

std::optional<uint64_t> GgufValue::AsUint64() const {
  if (!is_integer()) return std::nullopt;
  if (IsSigned(type_) && static_cast<int64_t>(bits_) < 0) return std::nullopt;
  return bits_;
}

std::optional<int64_t> GgufValue::AsInt64() const {
  if (!is_integer()) return std::nullopt;
  if (!IsSigned(type_) &&
      bits_ > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return std::nullopt;
  }
  return static_cast<int64_t>(bits_);
}

std::optional<double> GgufValue::AsDouble() const {
  if (type_ == GgufType::kFloat32 || type_ == GgufType::kFloat64) {
    return real_;
  }
  if (!is_integer()) return std::nullopt;
  return IsSigned(type_) ? static_cast<double>(static_cast<int64_t>(bits_))
                         : static_cast<double>(bits_);
}

std::optional<bool> GgufValue::AsBool() const {
  if (type_ != GgufType::kBool) return std::nullopt;
  return bits_ != 0;
}

const std::string* GgufValue::AsString() const {
  return type_ == GgufType::kString ? &string_ : nullptr;
}

GgufValue GgufValue::Element(uint64_t i) const {
  if (element_type_ == GgufType::kString) return String(strings_[i]);
  if (element_type_ == GgufType::kArray) return arrays_[i];
  uint32_t size = GgufFixedSize(element_type_);
  uint64_t raw = LoadLittleEndian(packed_.data() + i * size, size);
  if (element_type_ == GgufType::kFloat32) {
    float f;
    uint32_t bits32 = static_cast<uint32_t>(raw);
    std::memcpy(&f, &bits32, sizeof(f));
    return F32(f);
  }
  if (element_type_ == GgufType::kFloat64) {
    double d;
    std::memcpy(&d, &raw, sizeof(d));
    return F64(d);
  }
  if (element_type_ == GgufType::kUint64) return U64(raw);
  return Integer(element_type_, static_cast<int64_t>(raw));
}

}  // namespace cohort::worker::quant
