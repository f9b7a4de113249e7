// File: pyjson_value.h
//
// A JSON value as Python's `json` module holds it, and the bytes that
// `json.dump(value, f, indent=1)` writes for it. Used where cohort must produce
// files byte-identical to a Python reference (the drop-map generator):
//
//   PyValue summary = PyValue::Object();
//   summary.Set("alpha", PyValue::Float(2.0));
//   summary.Set("ids", PyValue::IntList({3, 5}));
//   std::string bytes = DumpPyJson(summary);   // "{\n \"alpha\": 2.0,\n ..."
//
// Byte compatibility:
//   - indent=1: every array element and object member on its own line,
//     separators "," and ": ", empty containers as [] and {}, no trailing
//     newline;
//   - floats as Python's repr (shortest round-trip, always a '.' or an
//     exponent, exponent form below 1e-4 and from 1e16 on), NaN, Infinity and
//     -Infinity as bare tokens;
//   - integers keep their decimal digits (Python ints are unbounded);
//   - strings ASCII-escaped (ensure_ascii=True), non-BMP code points as
//     surrogate pairs, lone surrogates (kept as WTF-8) as \udXXX;
//   - object members in insertion order; Set() on an existing key replaces the
//     value in place, as a Python dict does.
//
// Immutable values are cheap to copy for the small documents involved.
#ifndef COHORT_WORKER_PRUNE_PYJSON_VALUE_H_
#define COHORT_WORKER_PRUNE_PYJSON_VALUE_H_

#include <cstdint>
#include <string>
#include <vector>

namespace cohort::worker::prune {

class PyValue {
 public:
  enum class Kind { kNull, kBool, kInt, kFloat, kString, kArray, kObject };

  PyValue() = default;  // null
  static PyValue Null() { return PyValue(); }
  static PyValue Bool(bool value);
  static PyValue Int(int64_t value);
  // `digits`: an optional '-' and decimal digits, as JSON writes an integer.
  static PyValue IntText(std::string digits);
  static PyValue Float(double value);
  static PyValue String(std::string utf8);
  static PyValue Array();
  static PyValue Object();
  static PyValue IntList(const std::vector<int64_t>& values);
  static PyValue FloatList(const std::vector<double>& values);
  static PyValue StringList(const std::vector<std::string>& values);

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::kNull; }
  bool is_number() const {
    return kind_ == Kind::kInt || kind_ == Kind::kFloat;
  }
  bool bool_value() const { return bool_; }
  double float_value() const { return float_; }
  // The digits of an int, or the (decoded, UTF-8) text of a string.
  const std::string& text() const { return text_; }

  // Arrays.
  void Append(PyValue value);
  // Objects.
  void Set(const std::string& key, PyValue value);
  const PyValue* Find(const std::string& key) const;
  const std::vector<std::string>& keys() const { return keys_; }
  // Array elements, or object values in key order.
  const std::vector<PyValue>& items() const { return items_; }

 private:
  Kind kind_ = Kind::kNull;
  bool bool_ = false;
  double float_ = 0.0;
  std::string text_;
  std::vector<std::string> keys_;
  std::vector<PyValue> items_;
};

// Python's repr(float) for finite values; "NaN", "Infinity", "-Infinity"
// (json's spelling) otherwise.
std::string PyFloatRepr(double value);

// json.dump(value, f, indent=1) output, without a trailing newline.
std::string DumpPyJson(const PyValue& value);

// Appends `utf8` as a JSON string literal with ensure_ascii escaping.
void AppendPyJsonString(const std::string& utf8, std::string* out);

}  // namespace cohort::worker::prune

#endif  // COHORT_WORKER_PRUNE_PYJSON_VALUE_H_
