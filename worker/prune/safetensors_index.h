// File: safetensors_index.h
//
// `model.safetensors.index.json` and the other JSON side files, read and
// written as the reference scripts do (docs/pruning.md §3.1, §5): key order
// kept, Python `json.dump(indent=2)` formatting (ASCII-escaped strings, float
// repr, no trailing newline).
#ifndef COHORT_WORKER_PRUNE_SAFETENSORS_INDEX_H_
#define COHORT_WORKER_PRUNE_SAFETENSORS_INDEX_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace cohort::worker::prune {

using OrderedJson = nlohmann::ordered_json;

inline constexpr char kIndexFileName[] = "model.safetensors.index.json";

// Reads a JSON file keeping key order. kNotFound for a missing file,
// kInvalidArgument (naming the file) for bad JSON.
absl::StatusOr<OrderedJson> ReadOrderedJson(const std::string& path);

// Python's json.dumps(value, indent=indent) (indent < 0: the compact
// default separators ", " and ": "). NaN/Infinity are written as Python does.
std::string PyJsonDumps(const OrderedJson& value, int indent);

// Python repr() of a double: "1e-06", "30.0", "1.5e+16".
std::string PythonFloatRepr(double value);

struct ModelIndex {
  std::string path;
  OrderedJson metadata = OrderedJson::object();
  // weight_map in file order.
  std::vector<std::pair<std::string, std::string>> weight_map;

  // Distinct shard names, sorted.
  std::vector<std::string> SortedShards() const;
};

// Reads <dir>/model.safetensors.index.json. kInvalidArgument when
// weight_map is missing or maps a tensor to a non-string, or names a shard
// with a path separator; kNotFound when a named shard does not exist.
absl::StatusOr<ModelIndex> ReadModelIndex(const std::string& dir);

// {"metadata": {"total_size": N}, "weight_map": {...}} with indent=2, as
// expert_drop.py writes it.
std::string ModelIndexJson(
    uint64_t total_size,
    const std::vector<std::pair<std::string, std::string>>& weight_map);

// "model-00001-of-00003.safetensors".
std::string ShardFileName(int index, int count);

}  // namespace cohort::worker::prune

#endif  // COHORT_WORKER_PRUNE_SAFETENSORS_INDEX_H_
