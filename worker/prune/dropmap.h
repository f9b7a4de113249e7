// File: dropmap.h
//
// The drop-map generator: a C++ port of generate_drop_map_v5.py (mann1x/
// omnimergekit @f6450b19, docs/pruning.md §2) whose drop_map.json and summary
// are byte-identical to the reference's for the same inputs and flags.
//
//   DropMapOptions options;
//   options.data = "contrib_v5.json";
//   options.target = 98;
//   options.output = "drop_map.json";
//   COHORT_ASSIGN_OR_RETURN(DropMapResult result, GenerateDropMap(options, ""));
//   COHORT_RETURN_IF_ERROR(WriteDropMapResult(result, ""));
//
// Deliberate difference from the reference (docs/pruning.md §6): with
// n_drop = 0 and a baseline the summary is written (the reference crashes).
//
// Stateless; safe to call from several threads with different options.
#ifndef COHORT_WORKER_PRUNE_DROPMAP_H_
#define COHORT_WORKER_PRUNE_DROPMAP_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "worker/prune/dropmap_options.h"

namespace cohort::worker::prune {

struct DropMapResult {
  std::string drop_map_json;  // exact bytes of --output
  std::string summary_json;   // exact bytes of the summary
  std::string output_path;    // as given (relative paths stay relative)
  std::string summary_path;   // --summary-output or <output>.summary.json
  std::vector<std::string> log;  // progress lines like the reference prints
};

// Reads the inputs named in `options` (relative paths resolved against
// `input_dir`; "" = the working directory, as the reference does) and
// computes both output files in memory. Nothing is written.
//
// Errors (the message names the file, class/layer and field or flag):
//   kNotFound         a --data / --v4-floor-data / --v4-floor-map file is
//                     missing (a missing baseline is silently skipped);
//   kInvalidArgument  malformed JSON; a class missing from the data; a layer
//                     missing or with the wrong number of cells; duplicate or
//                     out-of-range expert ids; --class-weights or
//                     --protect-class-weights count not matching the classes;
//                     --classes / --protect-class-min naming unknown classes;
//                     a floor map naming a layer the data lacks; --target
//                     above num_experts or negative; v4 data of another shape.
absl::StatusOr<DropMapResult> GenerateDropMap(const DropMapOptions& options,
                                              const std::string& input_dir);

// Writes the drop map (creating its parent folder, as the reference does) and
// then the summary, each atomically; relative paths are resolved against
// `output_dir` ("" = working directory). kNotFound, before anything is
// written, if the summary's folder does not exist; kInternal or
// kResourceExhausted for I/O failures.
absl::Status WriteDropMapResult(const DropMapResult& result,
                                const std::string& output_dir);

}  // namespace cohort::worker::prune

#endif  // COHORT_WORKER_PRUNE_DROPMAP_H_
