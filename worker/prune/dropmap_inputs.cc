#include "worker/prune/dropmap_inputs.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "worker/prune/dropmap_options.h"
#include "worker/prune/pyjson_reader.h"

namespace cohort::worker::prune {
namespace {

using LayerValues = std::vector<std::pair<int64_t, double>>;

absl::Status FieldError(const std::string& file, const std::string& layer,
                        const std::string& field, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(
      file, ": layer ", layer, ", field \"", field, "\": ", what));
}

// Python truthiness, for `if src:`.
bool Truthy(const PyValue& v) {
  switch (v.kind()) {
    case PyValue::Kind::kNull: return false;
    case PyValue::Kind::kBool: return v.bool_value();
    case PyValue::Kind::kInt: return v.text() != "0";
    case PyValue::Kind::kFloat: return v.float_value() != 0.0;
    case PyValue::Kind::kString: return !v.text().empty();
    default: return !v.items().empty();
  }
}

// {int(k): float(v)} in key order; a repeated int key keeps its first
// position and its last value, as a dict comprehension does.
absl::StatusOr<LayerValues> IntKeyedValues(const PyValue& obj,
                                           const std::string& file,
                                           const std::string& field,
                                           bool as_int) {
  if (obj.kind() != PyValue::Kind::kObject) {
    return FieldError(file, "-", field, "not an object");
  }
  LayerValues out;
  for (size_t i = 0; i < obj.keys().size(); ++i) {
    const std::string& key = obj.keys()[i];
    std::optional<int64_t> layer = ParsePyInt(key);
    if (!layer) return FieldError(file, key, field, "key is not an integer");
    double value = 0.0;
    if (as_int) {
      std::optional<int64_t> v = PyIntOf(obj.items()[i]);
      if (!v) return FieldError(file, key, field, "value is not an integer");
      value = static_cast<double>(*v);
    } else {
      std::optional<double> v = PyFloatOf(obj.items()[i]);
      if (!v) return FieldError(file, key, field, "value is not a number");
      value = *v;
    }
    auto it = std::find_if(out.begin(), out.end(),
                           [&](const auto& p) { return p.first == *layer; });
    if (it != out.end()) {
      it->second = value;
    } else {
      out.emplace_back(*layer, value);
    }
  }
  return out;
}

absl::StatusOr<std::vector<std::pair<int64_t, int64_t>>> ClampFloors(
    const LayerValues& raw, const std::string& file, const std::string& field,
    int64_t lo, int64_t hi) {
  if (raw.empty()) return FieldError(file, "-", field, "no layers to clamp");
  double rmin = raw[0].second;
  double rmax = raw[0].second;
  for (const auto& [layer, v] : raw) {  // Python min()/max(): first wins
    if (v < rmin) rmin = v;
    if (v > rmax) rmax = v;
  }
  double span = rmax - rmin;
  if (span == 0.0) span = 1.0;  // `(rmax - rmin) or 1.0`
  std::vector<std::pair<int64_t, int64_t>> out;
  for (const auto& [layer, v] : raw) {
    const double x = static_cast<double>(lo) +
                     static_cast<double>(hi - lo) * (v - rmin) / span;
    if (!std::isfinite(x) || std::fabs(x) > 9e18) {
      return FieldError(file, std::to_string(layer), field,
                        "value gives a non-finite floor");
    }
    // Python round(): half to even, which nearbyint does in the default
    // rounding mode.
    const auto rounded = static_cast<int64_t>(std::nearbyint(x));
    out.emplace_back(layer, std::max(lo, std::min(hi, rounded)));
  }
  return out;
}

}  // namespace

absl::StatusOr<PyValue> ReadPyJsonFile(const std::string& path,
                                       const std::string& display_name) {
  COHORT_ASSIGN_OR_RETURN(std::unique_ptr<PyJsonReader> reader,
                          PyJsonReader::OpenFile(path, display_name));
  COHORT_ASSIGN_OR_RETURN(PyValue value, reader->ReadValue());
  COHORT_RETURN_IF_ERROR(reader->ExpectEnd());
  return value;
}

std::optional<int64_t> PyIntOf(const PyValue& v) {
  switch (v.kind()) {
    case PyValue::Kind::kBool:
      return v.bool_value() ? 1 : 0;
    case PyValue::Kind::kInt: {
      int64_t out = 0;
      const char* end = v.text().data() + v.text().size();
      auto res = std::from_chars(v.text().data(), end, out);
      if (res.ec != std::errc() || res.ptr != end) return std::nullopt;
      return out;
    }
    case PyValue::Kind::kFloat: {
      const double f = v.float_value();
      if (!std::isfinite(f) || std::fabs(f) >= 9.2e18) return std::nullopt;
      return static_cast<int64_t>(std::trunc(f));
    }
    case PyValue::Kind::kString:
      return ParsePyInt(v.text());
    default:
      return std::nullopt;
  }
}

std::optional<double> PyFloatOf(const PyValue& v) {
  switch (v.kind()) {
    case PyValue::Kind::kBool:
      return v.bool_value() ? 1.0 : 0.0;
    case PyValue::Kind::kInt:
      return std::strtod(v.text().c_str(), nullptr);
    case PyValue::Kind::kFloat:
      return v.float_value();
    case PyValue::Kind::kString:
      return ParsePyFloat(v.text());
    default:
      return std::nullopt;
  }
}

absl::StatusOr<std::vector<std::pair<int64_t, int64_t>>> ParseFloorMap(
    const PyValue& map, const std::string& file,
    const std::optional<std::pair<int64_t, int64_t>>& clamp, int64_t layers) {
  if (map.kind() != PyValue::Kind::kObject) {
    return FieldError(file, "-", "(top level)", "not an object");
  }
  const PyValue* nested = map.Find("floor_per_layer");
  const std::string field = nested ? "floor_per_layer" : "(top level)";
  COHORT_ASSIGN_OR_RETURN(LayerValues floors,
                          IntKeyedValues(nested ? *nested : map, file, field,
                                         /*as_int=*/true));
  std::vector<std::pair<int64_t, int64_t>> out;
  for (const auto& [layer, v] : floors) {
    out.emplace_back(layer, static_cast<int64_t>(v));
  }
  std::string checked_field = field;
  if (clamp) {
    const PyValue* top98 = map.Find("top98_mean_per_layer");
    LayerValues raw = floors;
    if (top98 != nullptr && Truthy(*top98)) {
      checked_field = "top98_mean_per_layer";
      COHORT_ASSIGN_OR_RETURN(
          raw, IntKeyedValues(*top98, file, checked_field, /*as_int=*/false));
    }
    COHORT_ASSIGN_OR_RETURN(out, ClampFloors(raw, file, checked_field,
                                             clamp->first, clamp->second));
  }
  if (out.empty()) return FieldError(file, "-", field, "no layers");
  for (const auto& [layer, floor] : out) {
    if (layer < 0 || layer >= layers) {
      return FieldError(file, std::to_string(layer), checked_field,
                        absl::StrCat("names a missing layer (the data has ",
                                     layers, " layers)"));
    }
  }
  return out;
}

absl::StatusOr<std::map<int64_t, std::vector<int64_t>>> ParseBaselineDropMap(
    const PyValue& map, const std::string& file) {
  if (map.kind() != PyValue::Kind::kObject) {
    return FieldError(file, "-", "(top level)", "not an object");
  }
  std::map<int64_t, std::vector<int64_t>> out;
  for (size_t i = 0; i < map.keys().size(); ++i) {
    const std::string& key = map.keys()[i];
    std::optional<int64_t> layer = ParsePyInt(key);
    if (!layer) return FieldError(file, key, key, "key is not an integer");
    const PyValue& list = map.items()[i];
    if (list.kind() != PyValue::Kind::kArray) {
      return FieldError(file, key, key, "not a list of expert ids");
    }
    std::vector<int64_t> ids;
    for (const PyValue& x : list.items()) {
      std::optional<int64_t> id = PyIntOf(x);
      if (!id) return FieldError(file, key, key, "id is not an integer");
      ids.push_back(*id);
    }
    std::sort(ids.begin(), ids.end());
    out[*layer] = std::move(ids);
  }
  return out;
}

}  // namespace cohort::worker::prune
