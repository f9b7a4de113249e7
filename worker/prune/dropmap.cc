#include "worker/prune/dropmap.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <system_error>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/atomic_file.h"
#include "common/status_macros.h"
#include "worker/prune/contrib_reader.h"
#include "worker/prune/dropmap_inputs.h"
#include "worker/prune/dropmap_score.h"
#include "worker/prune/dropmap_select.h"
#include "worker/prune/dropmap_summary.h"

namespace cohort::worker::prune {
namespace {

std::string Resolve(const std::string& dir, const std::string& path) {
  if (dir.empty() || path.empty() || path[0] == '/') return path;
  return dir + "/" + path;
}

absl::Status FlagError(const std::string& flag, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(flag, ": ", what));
}

// The v5 (or v4) data with its dense grid.
struct Data {
  ContribFile file;
  std::vector<std::string> classes;
  int64_t layers = 0;
  int64_t experts = 0;
  ContribGrid grid;
};

absl::StatusOr<std::vector<std::string>> AvailableClasses(
    const ContribFile& file) {
  const PyValue* cats = file.metadata.kind() == PyValue::Kind::kObject
                            ? file.metadata.Find("categories")
                            : nullptr;
  std::vector<std::string> out;
  if (cats != nullptr && cats->kind() == PyValue::Kind::kObject) {
    return cats->keys();
  }
  if (cats != nullptr && cats->kind() == PyValue::Kind::kArray) {
    for (const PyValue& v : cats->items()) {
      if (v.kind() != PyValue::Kind::kString) break;
      out.push_back(v.text());
    }
    if (out.size() == cats->items().size()) return out;
  }
  return absl::InvalidArgumentError(
      absl::StrCat(file.name, ": field \"metadata.categories\": missing or "
                              "not a list of class names"));
}

absl::Status ReadShape(Data* d) {
  COHORT_ASSIGN_OR_RETURN(d->layers, d->file.MetadataInt("num_layers"));
  COHORT_ASSIGN_OR_RETURN(d->experts, d->file.MetadataInt("num_experts"));
  if (d->layers < 1 || d->experts < 1 || d->layers > 1000000 ||
      d->experts > 1000000) {
    return absl::InvalidArgumentError(absl::StrCat(
        d->file.name, ": field \"metadata.num_layers\"/\"num_experts\": ",
        d->layers, " x ", d->experts, " is not a usable shape"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Data> LoadV5(const DropMapOptions& o, const std::string& dir) {
  Data d;
  COHORT_ASSIGN_OR_RETURN(d.file,
                          ReadContribFile(Resolve(dir, o.data), o.data));
  COHORT_ASSIGN_OR_RETURN(std::vector<std::string> available,
                          AvailableClasses(d.file));
  d.classes = o.classes ? *o.classes : available;
  std::vector<std::string> missing;
  for (const std::string& c : d.classes) {
    if (std::find(available.begin(), available.end(), c) == available.end()) {
      missing.push_back(c);
    }
  }
  if (!missing.empty() || d.classes.empty()) {
    return FlagError("--classes",
                     absl::StrCat(o.data, ": field \"metadata.categories\": "
                                          "classes not in data: [",
                                  absl::StrJoin(missing, ", "),
                                  "]; available=[",
                                  absl::StrJoin(available, ", "), "]"));
  }
  COHORT_RETURN_IF_ERROR(ReadShape(&d));
  if (o.target < 0 || o.target > d.experts) {
    return FlagError("--target",
                     absl::StrCat(o.target, " is outside [0, num_experts] (",
                                  o.data, ": field \"metadata.num_experts\" = ",
                                  d.experts, ")"));
  }
  COHORT_ASSIGN_OR_RETURN(d.grid, ExtractGrid(d.file, d.classes, d.layers,
                                              d.experts,
                                              o.score_mode != "mean"));
  return d;
}

absl::StatusOr<Data> LoadV4(const DropMapOptions& o, const std::string& dir,
                            const Data& v5) {
  Data d;
  COHORT_ASSIGN_OR_RETURN(
      d.file, ReadContribFile(Resolve(dir, o.v4_floor_data), o.v4_floor_data));
  d.classes = d.file.class_order;  // v4 classes: key order of "categories"
  COHORT_RETURN_IF_ERROR(ReadShape(&d));
  if (d.layers != v5.layers || d.experts != v5.experts || d.classes.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        o.v4_floor_data, ": field \"metadata.num_layers\"/\"num_experts\"/"
                         "\"categories\": ",
        d.classes.size(), " classes of ", d.layers, " x ", d.experts,
        ", expected at least one class of ", v5.layers, " x ", v5.experts));
  }
  COHORT_ASSIGN_OR_RETURN(d.grid, ExtractGrid(d.file, d.classes, d.layers,
                                              d.experts,
                                              o.score_mode != "mean"));
  return d;
}

absl::StatusOr<std::vector<double>> ParseWeights(
    const std::optional<std::vector<std::string>>& text, const char* flag,
    const std::vector<std::string>& classes, const std::string& data,
    const std::vector<double>& defaults) {
  if (!text) return defaults;
  if (text->size() != classes.size()) {
    return FlagError(flag, absl::StrCat(text->size(), " values for ",
                                        classes.size(), " classes of ", data));
  }
  std::vector<double> out;
  for (const std::string& w : *text) {
    std::optional<double> v = ParsePyFloat(w);
    if (!v) return FlagError(flag, absl::StrCat("not a number: '", w, "'"));
    out.push_back(*v);
  }
  return out;
}

std::vector<double> DefaultWeights(const std::vector<std::string>& classes) {
  std::vector<double> out;
  for (const std::string& c : classes) {
    const bool targeted = c == "targeted_humaneval" ||
                          c == "targeted_humanevalplus" ||
                          c == "targeted_lcb_medium_55";
    out.push_back(targeted ? 3.0 : 1.0);
  }
  return out;
}

absl::StatusOr<std::vector<int64_t>> FloorPerLayer(const DropMapOptions& o,
                                                   const std::string& dir,
                                                   int64_t layers) {
  std::vector<int64_t> floors(layers, o.v4_floor_top);
  if (!o.v4_floor_map) return floors;
  COHORT_ASSIGN_OR_RETURN(
      PyValue map, ReadPyJsonFile(Resolve(dir, *o.v4_floor_map), *o.v4_floor_map));
  COHORT_ASSIGN_OR_RETURN(
      auto per_layer, ParseFloorMap(map, *o.v4_floor_map, o.v4_floor_clamp, layers));
  for (const auto& [layer, floor] : per_layer) floors[layer] = floor;
  return floors;
}

absl::StatusOr<std::vector<ClassMinimum>> ParseClassMinima(
    const DropMapOptions& o, const Data& v4) {
  std::vector<ClassMinimum> out;
  for (const std::string& token : *o.protect_class_min) {
    const size_t colon = token.find(':');
    const std::string name(absl::StripAsciiWhitespace(token.substr(0, colon)));
    std::optional<int64_t> minimum =
        ParsePyInt(colon == std::string::npos ? "" : token.substr(colon + 1));
    if (!minimum) {
      return FlagError("--protect-class-min",
                       absl::StrCat("'", token, "' is not CLASS:N"));
    }
    auto cls = std::find(v4.classes.begin(), v4.classes.end(), name);
    if (cls == v4.classes.end()) {
      return FlagError("--protect-class-min",
                       absl::StrCat(o.v4_floor_data, ": field \"categories\": "
                                    "unknown v4 class '", name, "'"));
    }
    const int index = static_cast<int>(cls - v4.classes.begin());
    auto same = std::find_if(out.begin(), out.end(), [&](const ClassMinimum& m) {
      return m.v4_class == index;
    });
    if (same != out.end()) {
      same->minimum = *minimum;  // dict: first position, last value
    } else {
      out.push_back({index, *minimum});
    }
  }
  return out;
}

absl::StatusOr<std::optional<std::map<int64_t, std::vector<int64_t>>>>
LoadBaseline(const DropMapOptions& o, const std::string& dir) {
  std::optional<std::map<int64_t, std::vector<int64_t>>> none;
  if (o.baseline_drop_map.empty()) return none;
  const std::string path = Resolve(dir, o.baseline_drop_map);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return none;
  COHORT_ASSIGN_OR_RETURN(PyValue map,
                          ReadPyJsonFile(path, o.baseline_drop_map));
  COHORT_ASSIGN_OR_RETURN(auto parsed,
                          ParseBaselineDropMap(map, o.baseline_drop_map));
  return std::optional<std::map<int64_t, std::vector<int64_t>>>(
      std::move(parsed));
}

// Everything the selection needs, in the reference's computation order.
struct Computed {
  Data v5;
  std::vector<double> weights;
  ClassScores s_norm;
  LayerScores agg;
  std::optional<LayerScores> protect_agg;
  std::optional<Data> v4;  // read for a v4 floor or class minima
  std::optional<LayerScores> pooled;
  std::vector<int64_t> floors;
};

ScoreParams ParamsOf(const DropMapOptions& o) {
  return ScoreParams{o.alpha, o.score_mode == "mean", o.outlier_wnorm_thresh,
                     o.outlier_mode};
}

absl::StatusOr<Computed> Compute(const DropMapOptions& o,
                                 const std::string& dir) {
  Computed c;
  COHORT_ASSIGN_OR_RETURN(c.v5, LoadV5(o, dir));
  COHORT_ASSIGN_OR_RETURN(
      c.weights, ParseWeights(o.class_weights, "--class-weights", c.v5.classes,
                              o.data, DefaultWeights(c.v5.classes)));
  c.s_norm = Normalize(BaseScores(c.v5.grid, ParamsOf(o)), o.normalize);
  c.agg = Aggregate(c.s_norm, c.weights, o.strategy);
  if (o.breadth_bonus > 0) AddBreadthBonus(c.s_norm, o.breadth_bonus, &c.agg);
  const bool need_pooled = o.v4_floor_top > 0 || o.v4_floor_map.has_value();
  if (need_pooled || o.protect_class_min) {
    COHORT_ASSIGN_OR_RETURN(c.v4, LoadV4(o, dir, c.v5));
  }
  if (need_pooled) c.pooled = V4Pooled(c.v4->grid, ParamsOf(o));
  COHORT_ASSIGN_OR_RETURN(c.floors, FloorPerLayer(o, dir, c.v5.layers));
  if (o.protect_strategy != "same") {
    COHORT_ASSIGN_OR_RETURN(
        std::vector<double> pw,
        ParseWeights(o.protect_class_weights, "--protect-class-weights",
                     c.v5.classes, o.data,
                     std::vector<double>(c.v5.classes.size(), 1.0)));
    c.protect_agg = Aggregate(c.s_norm, pw, o.protect_strategy);
  }
  return c;
}

absl::StatusOr<Selection> Select(const DropMapOptions& o, const Computed& c) {
  SelectionInputs in;
  in.agg = &c.agg;
  in.protect_agg = c.protect_agg ? &*c.protect_agg : nullptr;
  in.s_norm = &c.s_norm;
  in.v4_pooled = c.pooled ? &*c.pooled : nullptr;
  in.target = o.target;
  in.protect_top = o.protect_top;
  in.class_protect_floor = o.class_protect_floor;
  in.floor_per_layer = c.floors;
  Selection sel = SelectDrops(in);
  if (o.protect_class_min) {
    COHORT_ASSIGN_OR_RETURN(std::vector<ClassMinimum> minima,
                            ParseClassMinima(o, *c.v4));
    EnforceClassMinima(c.agg, V4BestClass(c.v4->grid, ParamsOf(o)),
                       static_cast<int>(c.v4->classes.size()), minima,
                       PinnedExperts(in), &sel.drop);
  }
  return sel;
}

DropMapResult Render(const DropMapOptions& o, const Computed& c,
                     Selection sel,
                     const std::optional<std::map<int64_t, std::vector<int64_t>>>&
                         baseline) {
  SummaryInputs sum;
  sum.options = &o;
  sum.classes = &c.v5.classes;
  sum.weights = &c.weights;
  sum.metadata = &c.v5.file.metadata;
  sum.agg = &c.agg;
  sum.drop = &sel.drop;
  sum.boundary_ties = &sel.boundary_ties;
  sum.baseline = &baseline;
  sum.n_drop = c.v5.experts - o.target;
  DropMapResult result;
  result.drop_map_json = DumpPyJson(DropMapValue(sel.drop));
  result.summary_json = DumpPyJson(SummaryValue(sum));
  result.output_path = o.output;
  // `args.summary_output or (args.output + ".summary.json")`
  result.summary_path = (o.summary_output && !o.summary_output->empty())
                            ? *o.summary_output
                            : o.output + ".summary.json";
  result.log = std::move(sel.log);
  return result;
}

}  // namespace

absl::StatusOr<DropMapResult> GenerateDropMap(const DropMapOptions& o,
                                              const std::string& dir) {
  COHORT_ASSIGN_OR_RETURN(Computed computed, Compute(o, dir));
  COHORT_ASSIGN_OR_RETURN(Selection selection, Select(o, computed));
  COHORT_ASSIGN_OR_RETURN(auto baseline, LoadBaseline(o, dir));
  return Render(o, computed, std::move(selection), baseline);
}

absl::Status WriteDropMapResult(const DropMapResult& result,
                                const std::string& dir) {
  const std::string output = Resolve(dir, result.output_path);
  const std::filesystem::path parent =
      std::filesystem::path(output).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) {
      return absl::InternalError(absl::StrCat(
          result.output_path, ": cannot create its folder: ", ec.message()));
    }
  }
  // Fail before the first write if the summary cannot be placed, so a bad
  // --summary-output leaves no half-finished pair behind.
  const std::string summary = Resolve(dir, result.summary_path);
  const std::filesystem::path summary_parent =
      std::filesystem::path(summary).parent_path();
  std::error_code ec;
  if (!summary_parent.empty() &&
      !std::filesystem::is_directory(summary_parent, ec)) {
    return absl::NotFoundError(absl::StrCat(
        result.summary_path, ": its folder does not exist"));
  }
  COHORT_RETURN_IF_ERROR(WriteFileAtomically(output, result.drop_map_json));
  return WriteFileAtomically(summary, result.summary_json);
}

}  // namespace cohort::worker::prune
