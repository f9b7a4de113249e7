#include "worker/quant/gguf_json.h"

#include <cmath>
#include <optional>

namespace cohort::worker::quant {
namespace {

using Json = nlohmann::ordered_json;

Json ValueToJson(const GgufValue& v, uint64_t max_items);

Json ScalarToJson(const GgufValue& v) {
  if (const std::string* s = v.AsString()) return *s;
  if (std::optional<bool> b = v.AsBool()) return *b;
  if (v.type() == GgufType::kFloat32 || v.type() == GgufType::kFloat64) {
    double d = *v.AsDouble();
    return std::isfinite(d) ? Json(d) : Json(nullptr);
  }
  if (std::optional<uint64_t> u = v.AsUint64()) return *u;
  return *v.AsInt64();
}

Json ArrayToJson(const GgufValue& v, uint64_t max_items) {
  uint64_t shown = std::min<uint64_t>(v.size(), max_items);
  Json items = Json::array();
  for (uint64_t i = 0; i < shown; ++i) {
    items.push_back(ValueToJson(v.Element(i), max_items));
  }
  if (shown == v.size()) return items;
  // Tokenizer tables run to hundreds of thousands of entries: say how long
  // and show the start.
  Json out = Json::object();
  out["type"] = "array";
  out["element_type"] = GgufTypeName(v.element_type());
  out["length"] = v.size();
  out["head"] = std::move(items);
  return out;
}

Json ValueToJson(const GgufValue& v, uint64_t max_items) {
  return v.is_array() ? ArrayToJson(v, max_items) : ScalarToJson(v);
}

template <typename T>
Json OrNull(const std::optional<T>& v) {
  return v.has_value() ? Json(*v) : Json(nullptr);
}

Json SummaryToJson(const GgufSummary& s) {
  Json out = Json::object();
  out["architecture"] = s.architecture;
  if (!s.general_type.empty()) out["type"] = s.general_type;
  out["file_type"] = OrNull(s.file_type);
  out["file_type_name"] = s.file_type_name;
  out["expert_count"] = OrNull(s.expert_count);
  out["expert_used_count"] = OrNull(s.expert_used_count);
  out["block_count"] = OrNull(s.block_count);
  out["tensor_count"] = s.tensor_count;
  out["tensor_bytes"] = s.tensor_bytes;
  out["parameters"] = s.parameters;
  Json types = Json::object();
  for (const auto& [name, count] : s.tensor_types) types[name] = count;
  out["tensor_types"] = std::move(types);
  return out;
}

Json TensorToJson(const GgufTensorInfo& t) {
  Json out = Json::object();
  out["name"] = t.name;
  out["type"] = t.type_info->name;
  out["dims"] = t.dims;
  out["offset"] = t.offset;
  out["bytes"] = t.bytes;
  return out;
}

}  // namespace

nlohmann::ordered_json GgufToJson(const GgufContents& gguf,
                                  const GgufSummary& summary,
                                  const GgufJsonOptions& options) {
  Json out = Json::object();
  out["file"] = gguf.file;
  out["file_size"] = gguf.file_size;
  out["version"] = gguf.version;
  out["alignment"] = gguf.alignment;
  out["data_offset"] = gguf.data_offset;
  out["tensor_count"] = gguf.tensors.size();
  out["metadata_kv_count"] = gguf.metadata.size();
  out["summary"] = SummaryToJson(summary);
  Json metadata = Json::object();
  for (const GgufMetadataEntry& e : gguf.metadata) {
    metadata[e.key] = ValueToJson(e.value, options.max_array_items);
  }
  out["metadata"] = std::move(metadata);
  if (options.include_tensors) {
    Json tensors = Json::array();
    for (const GgufTensorInfo& t : gguf.tensors) {
      tensors.push_back(TensorToJson(t));
    }
    out["tensors"] = std::move(tensors);
  }
  return out;
}

std::string GgufJsonText(const GgufContents& gguf, const GgufSummary& summary,
                         const GgufJsonOptions& options) {
  return GgufToJson(gguf, summary, options)
      .dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace cohort::worker::quant
