// File: dropmap_options.h
//
// The drop-map generator's options, one field per flag of the reference
// `generate_drop_map_v5.py` (same defaults), plus the Python conversions the
// reference applies to flag text (argparse type=int / type=float, float() of
// --class-weights) and the summary's "args" block (argparse namespace order).
#ifndef COHORT_WORKER_PRUNE_DROPMAP_OPTIONS_H_
#define COHORT_WORKER_PRUNE_DROPMAP_OPTIONS_H_

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "worker/prune/pyjson_value.h"

namespace cohort::worker::prune {

struct DropMapOptions {
  std::string data = "scripts/expert_neuron_v5_code.json";
  int64_t target = 0;  // required
  int64_t protect_top = 16;
  double alpha = 2.0;
  std::string score_mode = "legacy";  // legacy | mean
  std::string strategy = "max";
  std::string normalize = "rank";  // rank | mean
  std::optional<std::vector<std::string>> classes;
  std::optional<std::vector<std::string>> class_weights;  // kept as text
  std::string protect_strategy = "same";
  std::optional<std::vector<std::string>> protect_class_weights;
  int64_t class_protect_floor = 0;
  std::string v4_floor_data = "scripts/expert_neuron_v4.json";
  int64_t v4_floor_top = 0;
  std::optional<std::pair<int64_t, int64_t>> v4_floor_clamp;
  std::optional<std::string> v4_floor_map;
  double breadth_bonus = 0.0;
  std::optional<std::vector<std::string>> protect_class_min;
  double outlier_wnorm_thresh = std::numeric_limits<double>::infinity();
  std::string outlier_mode = "keep";  // keep | median | drop | zero
  std::string baseline_drop_map = "scripts/teacher_force_98e_p16_clean.json";
  std::string output;  // required
  std::optional<std::string> summary_output;
};

// A long flag of the reference (name without "--") and its value count:
// 1, 2, or -1 for "one or more" (argparse nargs="+").
struct DropMapFlagSpec {
  const char* name;
  int nargs;
  const char* help;
};
const std::vector<DropMapFlagSpec>& DropMapFlagSpecs();

// The flags given on a command line: name -> value tokens.
using DropMapFlags = std::map<std::string, std::vector<std::string>>;

// Converts flag text as argparse would (type=int, type=float, choices,
// nargs). kInvalidArgument naming the flag for an unknown flag, a wrong value
// count, a value int()/float() rejects, a value outside the choices, or a
// missing --target / --output.
absl::StatusOr<DropMapOptions> DropMapOptionsFromFlags(
    const DropMapFlags& flags);

// The accepted values of the choice flags, as the reference lists them.
const std::vector<std::string>& StrategyChoices();         // --strategy
const std::vector<std::string>& ProtectStrategyChoices();  // adds "same"

// Python int(text) for base-10 text (surrounding white space, sign and
// single underscores between digits allowed); nullopt if invalid or outside
// int64.
std::optional<int64_t> ParsePyInt(absl::string_view text);
// Python float(text): decimal literals, inf/infinity/nan in any case, white
// space and digit-group underscores; nullopt if invalid.
std::optional<double> ParsePyFloat(absl::string_view text);

// vars(args) as the reference's summary writes it, keys in definition order.
PyValue DropMapArgsValue(const DropMapOptions& options);

}  // namespace cohort::worker::prune

#endif  // COHORT_WORKER_PRUNE_DROPMAP_OPTIONS_H_
