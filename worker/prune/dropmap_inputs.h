// File: dropmap_inputs.h
//
// The drop-map generator's small side inputs (docs/pruning.md §1.3, §1.4): the
// per-layer v4 floor map (nested or flat, optionally re-clamped) and the
// baseline drop map used for overlap statistics, read with Python's int() /
// float() conversions as the reference applies them.
#ifndef COHORT_WORKER_PRUNE_DROPMAP_INPUTS_H_
#define COHORT_WORKER_PRUNE_DROPMAP_INPUTS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "worker/prune/pyjson_value.h"

namespace cohort::worker::prune {

// Reads a whole (small) JSON file with Python's json semantics. kNotFound if
// missing; kInvalidArgument naming `display_name` for malformed JSON.
absl::StatusOr<PyValue> ReadPyJsonFile(const std::string& path,
                                       const std::string& display_name);

// Python int(v) / float(v) of a parsed JSON value; nullopt where Python would
// raise.
std::optional<int64_t> PyIntOf(const PyValue& v);
std::optional<double> PyFloatOf(const PyValue& v);

// Per-layer floors in the map's key order. `clamp` (LO, HI) rebuilds them
// from top98_mean_per_layer (or the floors) as --v4-floor-clamp does.
// kInvalidArgument naming the file, layer and field for: a non-object map,
// a key or value that int()/float() rejects, a layer outside [0, layers),
// an empty map, or a clamp source that is not finite.
absl::StatusOr<std::vector<std::pair<int64_t, int64_t>>> ParseFloorMap(
    const PyValue& map, const std::string& display_name,
    const std::optional<std::pair<int64_t, int64_t>>& clamp, int64_t layers);

// {layer: sorted ids}. kInvalidArgument naming the file and layer when the
// map is not an object of integer lists.
absl::StatusOr<std::map<int64_t, std::vector<int64_t>>> ParseBaselineDropMap(
    const PyValue& map, const std::string& display_name);

}  // namespace cohort::worker::prune

#endif  // COHORT_WORKER_PRUNE_DROPMAP_INPUTS_H_
