// DropMapFlagSpecs / DropMapOptionsFromFlags (declared in dropmap_options.h):
// argparse's view of the reference's command line.
#include <algorithm>
#include <functional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "worker/prune/dropmap_options.h"

namespace cohort::worker::prune {
namespace {

absl::Status FlagError(const std::string& name, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("--", name, ": ", what));
}

absl::StatusOr<int64_t> IntFlag(const std::string& name,
                                const std::string& text) {
  std::optional<int64_t> v = ParsePyInt(text);
  if (!v) return FlagError(name, absl::StrCat("invalid int value: '", text, "'"));
  return *v;
}

absl::StatusOr<double> FloatFlag(const std::string& name,
                                 const std::string& text) {
  std::optional<double> v = ParsePyFloat(text);
  if (!v) {
    return FlagError(name, absl::StrCat("invalid float value: '", text, "'"));
  }
  return *v;
}

absl::StatusOr<std::string> ChoiceFlag(const std::string& name,
                                       const std::string& text,
                                       const std::vector<std::string>& choices) {
  if (std::find(choices.begin(), choices.end(), text) == choices.end()) {
    return FlagError(name, absl::StrCat("invalid choice: '", text,
                                        "' (choose from ",
                                        absl::StrJoin(choices, ", "), ")"));
  }
  return text;
}

using Setter = std::function<absl::Status(const std::vector<std::string>&,
                                          DropMapOptions*)>;

Setter SetInt(int64_t DropMapOptions::*field, const std::string& name) {
  return [field, name](const std::vector<std::string>& v, DropMapOptions* o) {
    COHORT_ASSIGN_OR_RETURN(o->*field, IntFlag(name, v[0]));
    return absl::OkStatus();
  };
}

Setter SetFloat(double DropMapOptions::*field, const std::string& name) {
  return [field, name](const std::vector<std::string>& v, DropMapOptions* o) {
    COHORT_ASSIGN_OR_RETURN(o->*field, FloatFlag(name, v[0]));
    return absl::OkStatus();
  };
}

Setter SetChoice(std::string DropMapOptions::*field, const std::string& name,
                 std::vector<std::string> choices) {
  return [=](const std::vector<std::string>& v, DropMapOptions* o) {
    COHORT_ASSIGN_OR_RETURN(o->*field, ChoiceFlag(name, v[0], choices));
    return absl::OkStatus();
  };
}

Setter SetList(std::optional<std::vector<std::string>> DropMapOptions::*field) {
  return [field](const std::vector<std::string>& v, DropMapOptions* o) {
    o->*field = v;
    return absl::OkStatus();
  };
}

const std::map<std::string, Setter>& Setters() {
  static const auto* kSetters = new std::map<std::string, Setter>{
      {"data", [](const auto& v, auto* o) { o->data = v[0]; return absl::OkStatus(); }},
      {"target", SetInt(&DropMapOptions::target, "target")},
      {"protect-top", SetInt(&DropMapOptions::protect_top, "protect-top")},
      {"alpha", SetFloat(&DropMapOptions::alpha, "alpha")},
      {"score-mode", SetChoice(&DropMapOptions::score_mode, "score-mode",
                               {"legacy", "mean"})},
      {"strategy", SetChoice(&DropMapOptions::strategy, "strategy",
                             StrategyChoices())},
      {"normalize", SetChoice(&DropMapOptions::normalize, "normalize",
                              {"rank", "mean"})},
      {"classes", SetList(&DropMapOptions::classes)},
      {"class-weights", SetList(&DropMapOptions::class_weights)},
      {"protect-strategy", SetChoice(&DropMapOptions::protect_strategy,
                                     "protect-strategy",
                                     ProtectStrategyChoices())},
      {"protect-class-weights", SetList(&DropMapOptions::protect_class_weights)},
      {"class-protect-floor",
       SetInt(&DropMapOptions::class_protect_floor, "class-protect-floor")},
      {"v4-floor-data",
       [](const auto& v, auto* o) { o->v4_floor_data = v[0]; return absl::OkStatus(); }},
      {"v4-floor-top", SetInt(&DropMapOptions::v4_floor_top, "v4-floor-top")},
      {"v4-floor-clamp",
       [](const std::vector<std::string>& v, DropMapOptions* o) {
         COHORT_ASSIGN_OR_RETURN(int64_t lo, IntFlag("v4-floor-clamp", v[0]));
         COHORT_ASSIGN_OR_RETURN(int64_t hi, IntFlag("v4-floor-clamp", v[1]));
         o->v4_floor_clamp = std::make_pair(lo, hi);
         return absl::OkStatus();
       }},
      {"v4-floor-map",
       [](const auto& v, auto* o) { o->v4_floor_map = v[0]; return absl::OkStatus(); }},
      {"breadth-bonus", SetFloat(&DropMapOptions::breadth_bonus, "breadth-bonus")},
      {"protect-class-min", SetList(&DropMapOptions::protect_class_min)},
      {"outlier-wnorm-thresh",
       SetFloat(&DropMapOptions::outlier_wnorm_thresh, "outlier-wnorm-thresh")},
      {"outlier-mode", SetChoice(&DropMapOptions::outlier_mode, "outlier-mode",
                                 {"keep", "median", "drop", "zero"})},
      {"baseline-drop-map",
       [](const auto& v, auto* o) { o->baseline_drop_map = v[0]; return absl::OkStatus(); }},
      {"output", [](const auto& v, auto* o) { o->output = v[0]; return absl::OkStatus(); }},
      {"summary-output",
       [](const auto& v, auto* o) { o->summary_output = v[0]; return absl::OkStatus(); }},
  };
  return *kSetters;
}

}  // namespace

const std::vector<DropMapFlagSpec>& DropMapFlagSpecs() {
  static const auto* kSpecs = new std::vector<DropMapFlagSpec>{
      {"data", 1, "v5 contribution JSON"},
      {"target", 1, "experts to keep per layer (required)"},
      {"protect-top", 1, "top-N experts by aggregate never dropped (16)"},
      {"alpha", 1, "score = wnorm*alpha + tc (2.0)"},
      {"score-mode", 1, "legacy | mean (wnorm*alpha only)"},
      {"strategy", 1,
       "max | mean | geomean | sum | lp4 | softmax_t4 | second | top3mean"},
      {"normalize", 1, "rank | mean"},
      {"classes", -1, "classes to use (default: metadata.categories)"},
      {"class-weights", -1, "one weight per class"},
      {"protect-strategy", 1, "same or a strategy for the protect-top set"},
      {"protect-class-weights", -1, "weights for the protect aggregation"},
      {"class-protect-floor", 1, "also protect each class's top K"},
      {"v4-floor-data", 1, "v4 contribution JSON"},
      {"v4-floor-top", 1, "also protect the top K by v4 pooled score"},
      {"v4-floor-clamp", 2, "LO HI: rescale the per-layer floor into [LO, HI]"},
      {"v4-floor-map", 1, "per-layer v4 floor JSON"},
      {"breadth-bonus", 1, "add bonus * mean class rank to the aggregate"},
      {"protect-class-min", -1, "CLASS:N minimum kept per v4 best class"},
      {"outlier-wnorm-thresh", 1, "cells with |wnorm| above this are bad"},
      {"outlier-mode", 1, "keep | median | drop | zero"},
      {"baseline-drop-map", 1, "drop map for overlap statistics"},
      {"output", 1, "drop map JSON to write (required)"},
      {"summary-output", 1, "summary JSON (default <output>.summary.json)"},
  };
  return *kSpecs;
}

absl::StatusOr<DropMapOptions> DropMapOptionsFromFlags(
    const DropMapFlags& flags) {
  DropMapOptions options;
  for (const auto& flag : flags) {
    // Not a structured binding: C++17 lambdas cannot capture those (clang
    // refuses; GCC accepts as an extension).
    const auto& name = flag.first;
    const auto& values = flag.second;
    auto spec = std::find_if(
        DropMapFlagSpecs().begin(), DropMapFlagSpecs().end(),
        [&](const DropMapFlagSpec& s) { return name == s.name; });
    if (spec == DropMapFlagSpecs().end()) {
      return FlagError(name, "unknown flag");
    }
    const bool count_ok = spec->nargs < 0
                              ? !values.empty()
                              : values.size() == static_cast<size_t>(spec->nargs);
    if (!count_ok) {
      return FlagError(name, absl::StrCat("expected ",
                                          spec->nargs < 0 ? "at least one"
                                                          : std::to_string(spec->nargs),
                                          " value(s), got ", values.size()));
    }
    COHORT_RETURN_IF_ERROR(Setters().at(name)(values, &options));
  }
  if (flags.count("target") == 0) return FlagError("target", "required");
  if (flags.count("output") == 0 || options.output.empty()) {
    return FlagError("output", "required");
  }
  return options;
}

}  // namespace cohort::worker::prune
