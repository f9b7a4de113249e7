// File: contrib_reader.h
//
// Reads an expert-contribution JSON file (docs/pruning.md §1.1/§1.2) as a
// stream, keeping only what the drop-map generator uses: `metadata` (verbatim,
// for the summary) and, per class and layer, each cell's id, wnorm and tc.
// Every other field (neuron_act arrays: almost all of a card-size file) is
// skipped without being converted, so memory stays proportional to the cell
// count.
//
//   COHORT_ASSIGN_OR_RETURN(ContribFile file, ReadContribFile(path, "x.json"));
//   COHORT_ASSIGN_OR_RETURN(int64_t layers, file.MetadataInt("num_layers"));
//   COHORT_ASSIGN_OR_RETURN(ContribGrid grid,
//                           ExtractGrid(file, classes, layers, experts, true));
//
// Reading follows Python's json.load: NaN/Infinity accepted, duplicate keys
// keep the last value (at the first key's position). Checks that need to know
// what is used (a missing class or layer, a wrong cell count, duplicate or
// out-of-range ids, an unusable field value) happen in ExtractGrid, so unused
// parts of the file are as free-form as the reference allows.
#ifndef COHORT_WORKER_PRUNE_CONTRIB_READER_H_
#define COHORT_WORKER_PRUNE_CONTRIB_READER_H_

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "worker/prune/pyjson_value.h"

namespace cohort::worker::prune {

struct ContribCell {
  int64_t id = 0;
  double wnorm = 0.0;
  double tc = 0.0;
  bool has_id = false;
  bool has_wnorm = false;
  bool has_tc = false;
  // Name of the first field whose value could not be used ("id", "wnorm",
  // "tc", or "cell" when the cell is not an object); empty if none.
  std::string bad_field;
};

struct ContribRow {
  bool is_array = true;
  std::vector<ContribCell> cells;
};

struct ContribClass {
  bool is_object = true;
  std::unordered_map<std::string, ContribRow> layers;  // by layer key
};

struct ContribFile {
  std::string name;  // for messages
  bool has_metadata = false;
  PyValue metadata;
  bool has_categories = false;
  bool categories_is_object = true;
  std::vector<std::string> class_order;  // key order of "categories"
  std::unordered_map<std::string, ContribClass> classes;

  // int(metadata[field]); kInvalidArgument naming the file and field if it is
  // missing or not a number.
  absl::StatusOr<int64_t> MetadataInt(const std::string& field) const;
};

// kNotFound if the file does not exist, kInvalidArgument (file name and byte
// offset) for malformed JSON or a top level that is not an object.
absl::StatusOr<ContribFile> ReadContribFile(const std::string& path,
                                            const std::string& display_name);
// The same, from text in memory (tests).
absl::StatusOr<ContribFile> ParseContribText(std::string text,
                                             const std::string& display_name);

// Dense [class][layer][expert] arrays placed by cell id.
struct ContribGrid {
  int classes = 0;
  int layers = 0;
  int experts = 0;
  std::vector<double> wnorm;
  std::vector<double> tc;  // zeros unless tc was requested
  size_t Index(int c, int l, int e) const {
    return (static_cast<size_t>(c) * layers + l) * experts + e;
  }
};

// Rows categories[class][str(l)] for every listed class and l < layers.
// kInvalidArgument naming file, class, layer and field for: a missing class
// or layer, a row that is not a list of `experts` cells, a cell without id or
// wnorm (or tc when `need_tc`), an unusable value, a duplicate id or an id
// outside [0, experts).
absl::StatusOr<ContribGrid> ExtractGrid(const ContribFile& file,
                                        const std::vector<std::string>& classes,
                                        int64_t layers, int64_t experts,
                                        bool need_tc);

}  // namespace cohort::worker::prune

#endif  // COHORT_WORKER_PRUNE_CONTRIB_READER_H_
