#include "worker/prune/safetensors_index.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/atomic_file.h"
#include "common/status_macros.h"

namespace cohort::worker::prune {
namespace {

// Decodes one UTF-8 sequence at text[i]; invalid bytes pass through as
// U+FFFD-free raw code points (nlohmann has validated the text already).
uint32_t DecodeUtf8(const std::string& text, size_t& i) {
  unsigned char c = static_cast<unsigned char>(text[i]);
  int extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
  uint32_t code = extra == 0 ? c : c & (0x3F >> extra);
  for (int k = 0; k < extra && i + 1 < text.size(); ++k) {
    code = (code << 6) | (static_cast<unsigned char>(text[++i]) & 0x3F);
  }
  return code;
}

void AppendPyString(std::string& out, const std::string& text) {
  out += '"';
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    switch (c) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      default: break;
    }
    unsigned char u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7F) {
      out += c;
      continue;
    }
    uint32_t code = DecodeUtf8(text, i);
    if (code >= 0x10000) {
      code -= 0x10000;
      absl::StrAppend(&out, absl::StrFormat("\\u%04x\\u%04x",
                                            0xD800 + (code >> 10),
                                            0xDC00 + (code & 0x3FF)));
    } else {
      absl::StrAppend(&out, absl::StrFormat("\\u%04x", code));
    }
  }
  out += '"';
}

void Dump(const OrderedJson& value, int indent, int level, std::string& out) {
  const bool pretty = indent >= 0;
  auto newline = [&](int depth) {
    out += '\n';
    out.append(static_cast<size_t>(indent * depth), ' ');
  };
  const char* item_sep = pretty ? "," : ", ";
  switch (value.type()) {
    case OrderedJson::value_t::object: {
      if (value.empty()) { out += "{}"; return; }
      out += '{';
      bool first = true;
      for (const auto& [key, item] : value.items()) {
        if (!first) out += item_sep;
        first = false;
        if (pretty) newline(level + 1);
        AppendPyString(out, key);
        out += ": ";
        Dump(item, indent, level + 1, out);
      }
      if (pretty) newline(level);
      out += '}';
      return;
    }
    case OrderedJson::value_t::array: {
      if (value.empty()) { out += "[]"; return; }
      out += '[';
      bool first = true;
      for (const OrderedJson& item : value) {
        if (!first) out += item_sep;
        first = false;
        if (pretty) newline(level + 1);
        Dump(item, indent, level + 1, out);
      }
      if (pretty) newline(level);
      out += ']';
      return;
    }
    case OrderedJson::value_t::string:
      AppendPyString(out, value.get<std::string>());
      return;
    case OrderedJson::value_t::boolean:
      out += value.get<bool>() ? "true" : "false";
      return;
    case OrderedJson::value_t::number_integer:
      absl::StrAppend(&out, value.get<int64_t>());
      return;
    case OrderedJson::value_t::number_unsigned:
      absl::StrAppend(&out, value.get<uint64_t>());
      return;
    case OrderedJson::value_t::number_float:
      out += PythonFloatRepr(value.get<double>());
      return;
    default:
      out += "null";
      return;
  }
}

}  // namespace

std::string PythonFloatRepr(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  char buf[64];
  auto result = std::to_chars(buf, buf + sizeof(buf), value,
                              std::chars_format::scientific);
  std::string sci(buf, result.ptr);  // "-1.2345e-05"
  std::string sign;
  if (sci[0] == '-') {
    sign = "-";
    sci.erase(0, 1);
  }
  size_t e = sci.find('e');
  std::string digits = sci.substr(0, e);
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  int exponent = std::stoi(sci.substr(e + 1));
  int decpt = exponent + 1;  // value = 0.digits x 10^decpt
  if (decpt > -4 && decpt <= 16) {
    std::string out;
    if (decpt <= 0) {
      out = "0." + std::string(static_cast<size_t>(-decpt), '0') + digits;
    } else if (static_cast<size_t>(decpt) >= digits.size()) {
      out = digits + std::string(decpt - digits.size(), '0') + ".0";
    } else {
      out = digits.substr(0, decpt) + "." + digits.substr(decpt);
    }
    return sign + out;
  }
  std::string mantissa = digits.substr(0, 1);
  if (digits.size() > 1) mantissa += "." + digits.substr(1);
  return sign + mantissa + absl::StrFormat("e%c%02d", exponent < 0 ? '-' : '+',
                                           std::abs(exponent));
}

std::string PyJsonDumps(const OrderedJson& value, int indent) {
  std::string out;
  Dump(value, indent, 0, out);
  return out;
}

absl::StatusOr<OrderedJson> ReadOrderedJson(const std::string& path) {
  COHORT_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  OrderedJson json = OrderedJson::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not valid JSON"));
  }
  return json;
}

std::vector<std::string> ModelIndex::SortedShards() const {
  std::set<std::string> names;
  for (const auto& [tensor, shard] : weight_map) names.insert(shard);
  return std::vector<std::string>(names.begin(), names.end());
}

absl::StatusOr<ModelIndex> ReadModelIndex(const std::string& dir) {
  ModelIndex index;
  index.path = dir + "/" + kIndexFileName;
  COHORT_ASSIGN_OR_RETURN(OrderedJson json, ReadOrderedJson(index.path));
  auto map_it = json.is_object() ? json.find("weight_map") : json.end();
  if (!json.is_object() || map_it == json.end() || !map_it->is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(index.path, ": no weight_map object"));
  }
  if (json.contains("metadata")) index.metadata = json["metadata"];
  for (const auto& [tensor, shard] : map_it->items()) {
    if (!shard.is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(
          index.path, ": weight_map[\"", tensor, "\"] is not a string"));
    }
    std::string name = shard.get<std::string>();
    if (name.empty() || name.find('/') != std::string::npos || name == "." ||
        name == "..") {
      return absl::InvalidArgumentError(absl::StrCat(
          index.path, ": weight_map[\"", tensor, "\"] names shard \"", name,
          "\", which is not a plain file name"));
    }
    index.weight_map.emplace_back(tensor, std::move(name));
  }
  for (const std::string& shard : index.SortedShards()) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(dir + "/" + shard, ec)) {
      return absl::NotFoundError(absl::StrCat(
          index.path, ": names shard ", shard, ", which does not exist in ",
          dir));
    }
  }
  return index;
}

std::string ModelIndexJson(
    uint64_t total_size,
    const std::vector<std::pair<std::string, std::string>>& weight_map) {
  OrderedJson json = OrderedJson::object();
  json["metadata"] = OrderedJson::object();
  json["metadata"]["total_size"] = total_size;
  OrderedJson map = OrderedJson::object();
  for (const auto& [tensor, shard] : weight_map) map[tensor] = shard;
  json["weight_map"] = std::move(map);
  return PyJsonDumps(json, 2);
}

std::string ShardFileName(int index, int count) {
  return absl::StrFormat("model-%05d-of-%05d.safetensors", index, count);
}

}  // namespace cohort::worker::prune
