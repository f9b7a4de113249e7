#include "worker/prune/pyjson_value.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>

namespace cohort::worker::prune {

PyValue PyValue::Bool(bool value) {
  PyValue v;
  v.kind_ = Kind::kBool;
  v.bool_ = value;
  return v;
}

PyValue PyValue::Int(int64_t value) { return IntText(std::to_string(value)); }

PyValue PyValue::IntText(std::string digits) {
  PyValue v;
  v.kind_ = Kind::kInt;
  // Python has no negative zero for ints: json.loads("-0") dumps as 0.
  v.text_ = digits == "-0" ? "0" : std::move(digits);
  return v;
}

PyValue PyValue::Float(double value) {
  PyValue v;
  v.kind_ = Kind::kFloat;
  v.float_ = value;
  return v;
}

PyValue PyValue::String(std::string utf8) {
  PyValue v;
  v.kind_ = Kind::kString;
  v.text_ = std::move(utf8);
  return v;
}

PyValue PyValue::Array() {
  PyValue v;
  v.kind_ = Kind::kArray;
  return v;
}

PyValue PyValue::Object() {
  PyValue v;
  v.kind_ = Kind::kObject;
  return v;
}

PyValue PyValue::IntList(const std::vector<int64_t>& values) {
  PyValue v = Array();
  for (int64_t x : values) v.Append(Int(x));
  return v;
}

PyValue PyValue::FloatList(const std::vector<double>& values) {
  PyValue v = Array();
  for (double x : values) v.Append(Float(x));
  return v;
}

PyValue PyValue::StringList(const std::vector<std::string>& values) {
  PyValue v = Array();
  for (const std::string& x : values) v.Append(String(x));
  return v;
}

void PyValue::Append(PyValue value) { items_.push_back(std::move(value)); }

void PyValue::Set(const std::string& key, PyValue value) {
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (keys_[i] == key) {
      items_[i] = std::move(value);
      return;
    }
  }
  keys_.push_back(key);
  items_.push_back(std::move(value));
}

const PyValue* PyValue::Find(const std::string& key) const {
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (keys_[i] == key) return &items_[i];
  }
  return nullptr;
}

std::string PyFloatRepr(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  // to_chars' shortest scientific form has the same digits as Python's repr
  // (both pick the shortest round-trip string closest to the value); only
  // the layout differs.
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), value,
                           std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  std::string sign;
  if (!sci.empty() && sci[0] == '-') {
    sign = "-";
    sci.erase(0, 1);
  }
  size_t e_pos = sci.find('e');
  std::string mantissa = sci.substr(0, e_pos);
  int exp10 = std::atoi(sci.c_str() + e_pos + 1);
  std::string digits;
  for (char c : mantissa) {
    if (c != '.') digits.push_back(c);
  }
  const int n = static_cast<int>(digits.size());
  const int decpt = exp10 + 1;  // value = 0.DIGITS * 10^decpt
  std::string out = sign;
  if (decpt <= -4 || decpt > 16) {
    out += digits[0];
    if (n > 1) out += "." + digits.substr(1);
    char exp_buf[16];
    std::snprintf(exp_buf, sizeof(exp_buf), "e%c%02d", exp10 < 0 ? '-' : '+',
                  std::abs(exp10));
    out += exp_buf;
  } else if (decpt <= 0) {
    out += "0." + std::string(-decpt, '0') + digits;
  } else if (decpt >= n) {
    out += digits + std::string(decpt - n, '0') + ".0";
  } else {
    out += digits.substr(0, decpt) + "." + digits.substr(decpt);
  }
  return out;
}

namespace {

// Decodes one UTF-8 (WTF-8: surrogates allowed) sequence at s[*i]; invalid
// bytes decode as themselves (U+0080..U+00FF) so output never fails.
uint32_t DecodeUtf8(const std::string& s, size_t* i) {
  const auto b0 = static_cast<unsigned char>(s[*i]);
  int len = b0 < 0x80 ? 1 : (b0 >> 5) == 6 ? 2 : (b0 >> 4) == 14 ? 3
                          : (b0 >> 3) == 30 ? 4 : 0;
  if (len == 0 || *i + len > s.size()) {
    ++*i;
    return b0;
  }
  uint32_t cp = len == 1 ? b0 : b0 & (0x7F >> len);
  for (int k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[*i + k]);
    if ((b & 0xC0) != 0x80) {
      ++*i;
      return b0;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  *i += len;
  return cp;
}

void AppendU16Escape(uint32_t unit, std::string* out) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "\\u%04x", unit);
  out->append(buf);
}

void AppendIndent(int depth, std::string* out) {
  out->push_back('\n');
  out->append(static_cast<size_t>(depth), ' ');
}

void Dump(const PyValue& v, int depth, std::string* out) {
  switch (v.kind()) {
    case PyValue::Kind::kNull:
      out->append("null");
      return;
    case PyValue::Kind::kBool:
      out->append(v.bool_value() ? "true" : "false");
      return;
    case PyValue::Kind::kInt:
      out->append(v.text());
      return;
    case PyValue::Kind::kFloat:
      out->append(PyFloatRepr(v.float_value()));
      return;
    case PyValue::Kind::kString:
      AppendPyJsonString(v.text(), out);
      return;
    case PyValue::Kind::kArray:
    case PyValue::Kind::kObject:
      break;
  }
  const bool is_object = v.kind() == PyValue::Kind::kObject;
  const auto& items = v.items();
  if (items.empty()) {
    out->append(is_object ? "{}" : "[]");
    return;
  }
  out->push_back(is_object ? '{' : '[');
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out->push_back(',');
    AppendIndent(depth + 1, out);
    if (is_object) {
      AppendPyJsonString(v.keys()[i], out);
      out->append(": ");
    }
    Dump(items[i], depth + 1, out);
  }
  AppendIndent(depth, out);
  out->push_back(is_object ? '}' : ']');
}

}  // namespace

void AppendPyJsonString(const std::string& utf8, std::string* out) {
  out->push_back('"');
  size_t i = 0;
  while (i < utf8.size()) {
    const uint32_t cp = DecodeUtf8(utf8, &i);
    switch (cp) {
      case '"': out->append("\\\""); continue;
      case '\\': out->append("\\\\"); continue;
      case '\n': out->append("\\n"); continue;
      case '\r': out->append("\\r"); continue;
      case '\t': out->append("\\t"); continue;
      case '\b': out->append("\\b"); continue;
      case '\f': out->append("\\f"); continue;
      default: break;
    }
    if (cp >= 0x20 && cp <= 0x7E) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x10000) {
      AppendU16Escape(cp, out);
    } else {
      const uint32_t v = cp - 0x10000;
      AppendU16Escape(0xD800 | (v >> 10), out);
      AppendU16Escape(0xDC00 | (v & 0x3FF), out);
    }
  }
  out->push_back('"');
}

std::string DumpPyJson(const PyValue& value) {
  std::string out;
  Dump(value, 0, &out);
  return out;
}

}  // namespace cohort::worker::prune
