// File: gguf_value.h
//
// A GGUF metadata value: one of the 13 GGUF value types (gguf.h's
// `enum gguf_type`). Scalars are held decoded; arrays keep their elements
// compactly (numbers packed little-endian as in the file, strings as a
// vector, nested arrays as values), because a tokenizer table is hundreds of
// thousands of elements and only a few are ever looked at.
//
//   GgufValue v = GgufValue::U32(98);
//   std::optional<uint64_t> n = v.AsUint64();            // 98
//   GgufValue tokens = GgufValue::StringArray({"<pad>", "<eos>"});
//   GgufValue first = tokens.Element(0);                 // "<pad>"
//
// Immutable after construction; copyable.
#ifndef COHORT_WORKER_QUANT_GGUF_VALUE_H_
#define COHORT_WORKER_QUANT_GGUF_VALUE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace cohort::worker::quant {

// The on-disk value type tags (uint32 in the file).
enum class GgufType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};

// True for 0..12.
bool IsGgufType(uint32_t tag);
// "uint8", ..., "float64" (gguf.h's names); "unknown" otherwise.
const char* GgufTypeName(GgufType type);
// Bytes of one fixed-size element; 0 for kString and kArray.
uint32_t GgufFixedSize(GgufType type);

class GgufValue {
 public:
  GgufValue() = default;  // uint8 0

  // Scalars. Integer(type, v) REQUIRES an integer or bool `type`; the value
  // is truncated to the type's width, as the file would store it.
  static GgufValue Integer(GgufType type, int64_t v);
  static GgufValue U8(uint8_t v) { return Integer(GgufType::kUint8, v); }
  static GgufValue I32(int32_t v) { return Integer(GgufType::kInt32, v); }
  static GgufValue U32(uint32_t v) { return Integer(GgufType::kUint32, v); }
  static GgufValue U64(uint64_t v);
  static GgufValue I64(int64_t v) { return Integer(GgufType::kInt64, v); }
  static GgufValue Bool(bool v) { return Integer(GgufType::kBool, v); }
  static GgufValue F32(float v);
  static GgufValue F64(double v);
  static GgufValue String(std::string v);

  // Arrays. Packed(): `packed` holds count x GgufFixedSize(element_type)
  // little-endian bytes (REQUIRES a fixed-size element type and a matching
  // length). Arrays() holds nested arrays (each item is itself an array).
  static GgufValue Packed(GgufType element_type, uint64_t count,
                          std::string packed);
  static GgufValue StringArray(std::vector<std::string> items);
  static GgufValue Arrays(std::vector<GgufValue> items);
  static GgufValue U32Array(const std::vector<uint32_t>& items);
  static GgufValue I32Array(const std::vector<int32_t>& items);
  static GgufValue F32Array(const std::vector<float>& items);

  GgufType type() const { return type_; }
  bool is_array() const { return type_ == GgufType::kArray; }
  bool is_integer() const;  // the 8 integer types (not bool)

  // Any integer type whose value fits; nullopt otherwise (a negative value,
  // a string, a float, an array).
  std::optional<uint64_t> AsUint64() const;
  std::optional<int64_t> AsInt64() const;
  // Floats, and integers converted.
  std::optional<double> AsDouble() const;
  std::optional<bool> AsBool() const;
  // nullptr unless a string.
  const std::string* AsString() const;

  // Arrays (element_type() is meaningless otherwise, size() is 0).
  GgufType element_type() const { return element_type_; }
  uint64_t size() const { return count_; }
  // REQUIRES: is_array() && i < size().
  GgufValue Element(uint64_t i) const;
  // The raw little-endian bytes of a fixed-size array (for the writer).
  const std::string& packed() const { return packed_; }
  const std::vector<std::string>& strings() const { return strings_; }
  const std::vector<GgufValue>& arrays() const { return arrays_; }

 private:
  GgufType type_ = GgufType::kUint8;
  uint64_t bits_ = 0;  // integers, sign-extended; bool 0/1
  double real_ = 0;    // kFloat32 / kFloat64
  std::string string_;
  GgufType element_type_ = GgufType::kUint8;
  uint64_t count_ = 0;
  std::string packed_;
  std::vector<std::string> strings_;
  std::vector<GgufValue> arrays_;
};

}  // namespace cohort::worker::quant

#endif  // COHORT_WORKER_QUANT_GGUF_VALUE_H_
