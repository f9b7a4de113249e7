// `cohort-worker quantmap`: a per-layer tensor-type map for llama-quantize
// (`--tensor-type-file`) from the contribution data and the drop map the
// model was pruned with. The classes and weights are the drop map's own
// (classes_used, weights_used of its summary), so "contribution" means what
// it meant when the experts were chosen. The allocation is the pure core's
// (worker/quant/quant_plan.h); this file reads the inputs, checks that they
// describe one model and writes the map and its summary atomically.
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/atomic_file.h"
#include "common/status_macros.h"
#include "worker/invocation/invocations.h"
#include "worker/prune/contrib_reader.h"
#include "worker/prune/dropmap_inputs.h"
#include "worker/prune/expert_drop_plan.h"
#include "worker/quant/gguf_reader.h"
#include "worker/quant/quant_plan.h"
#include "worker/tools/commands.h"

namespace cohort::worker {
namespace {

using json = nlohmann::json;

struct ClassWeights {
  std::vector<std::string> classes;
  std::vector<double> weights;
};

// classes_used and weights_used of the drop map's summary.
absl::StatusOr<ClassWeights> ReadClassWeights(const std::string& drop_map) {
  const std::string path = drop_map + ".summary.json";
  COHORT_ASSIGN_OR_RETURN(prune::PyValue summary, prune::ReadPyJsonFile(path, path));
  const prune::PyValue* classes = summary.Find("classes_used");
  const prune::PyValue* weights = summary.Find("weights_used");
  if (classes == nullptr || weights == nullptr ||
      classes->kind() != prune::PyValue::Kind::kArray ||
      weights->kind() != prune::PyValue::Kind::kArray ||
      classes->items().size() != weights->items().size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": needs classes_used and weights_used, lists of one length (dropmap writes them)"));
  }
  ClassWeights out;
  for (size_t i = 0; i < classes->items().size(); ++i) {
    const prune::PyValue& name = classes->items()[i];
    std::optional<double> weight = prune::PyFloatOf(weights->items()[i]);
    if (name.kind() != prune::PyValue::Kind::kString || !weight.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": classes_used[", i, "] or weights_used[", i, "] is unusable"));
    }
    out.classes.push_back(name.text());
    out.weights.push_back(*weight);
  }
  return out;
}

// Per cell: wnorm, a sum over the tokens routed to the expert; files whose
// wnorm_mode is rms_per_token store a per-token RMS instead, and wnorm * tc
// gives back a mass that grows with use.
absl::StatusOr<quant::ContributionTable> ReadContribution(const std::string& path,
                                                         const ClassWeights& cw,
                                                         std::string* measure) {
  COHORT_ASSIGN_OR_RETURN(prune::ContribFile file, prune::ReadContribFile(path, path));
  COHORT_ASSIGN_OR_RETURN(int64_t layers, file.MetadataInt("num_layers"));
  COHORT_ASSIGN_OR_RETURN(int64_t experts, file.MetadataInt("num_experts"));
  if (layers <= 0 || layers > 4096 || experts <= 0 || experts > 65536) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": num_layers ", layers, " / num_experts ", experts, " out of range"));
  }
  const prune::PyValue* mode = file.metadata.Find("wnorm_mode");
  const bool per_token =
      mode != nullptr && mode->kind() == prune::PyValue::Kind::kString &&
      mode->text() == "rms_per_token";
  *measure = per_token ? "wnorm * tc (wnorm_mode rms_per_token)" : "wnorm";
  COHORT_ASSIGN_OR_RETURN(prune::ContribGrid grid,
                          prune::ExtractGrid(file, cw.classes, layers, experts, per_token));
  quant::ContributionTable table;
  table.classes = grid.classes;
  table.layers = grid.layers;
  table.experts = grid.experts;
  table.mass = grid.wnorm;
  if (per_token) {
    for (size_t i = 0; i < table.mass.size(); ++i) table.mass[i] *= grid.tc[i];
  }
  return table;
}

// Dropped ids per layer; a layer the map does not name drops nothing.
absl::StatusOr<std::vector<std::vector<int>>> ReadDropped(const std::string& path,
                                                          int layers) {
  COHORT_ASSIGN_OR_RETURN(prune::ExpertDropMap map, prune::ReadExpertDropMap(path));
  std::vector<std::vector<int>> dropped(layers);
  for (const auto& [layer, ids] : map.layers) {
    if (layer < 0 || layer >= layers) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": layer ", layer, " is outside the contribution data's ", layers, " layers"));
    }
    dropped[layer] = ids;
  }
  return dropped;
}

// The GGUF must be the model the drop map made: each expert layer holds the
// experts the map keeps.
absl::Status CheckExpertCounts(const std::string& gguf, const std::string& drop_map,
                               const std::vector<quant::LayerTensors>& layers,
                               const std::vector<std::vector<int>>& dropped, int experts) {
  for (const quant::LayerTensors& layer : layers) {
    if (layer.layer >= static_cast<int>(dropped.size())) continue;  // PlanLayerTypes says
    const uint64_t kept = experts - dropped[layer.layer].size();
    if (layer.experts != kept) {
      return absl::InvalidArgumentError(absl::StrCat(
          gguf, ": layer ", layer.layer, " has ", layer.experts, " experts, but ", drop_map,
          " keeps ", kept, " of ", experts, " there: the map is not this model's"));
    }
  }
  return absl::OkStatus();
}

absl::Status MakeQuantMap(const QuantmapInvocation& in) {
  COHORT_ASSIGN_OR_RETURN(ClassWeights cw, ReadClassWeights(in.drop_map));
  std::string measure;
  COHORT_ASSIGN_OR_RETURN(quant::ContributionTable table,
                          ReadContribution(in.data, cw, &measure));
  COHORT_ASSIGN_OR_RETURN(std::vector<std::vector<int>> dropped,
                          ReadDropped(in.drop_map, table.layers));
  COHORT_ASSIGN_OR_RETURN(quant::GgufContents gguf, quant::ReadGgufFile(in.gguf));
  const std::vector<std::string>& kinds =
      in.tensors.empty() ? quant::DefaultExpertKinds() : in.tensors;
  COHORT_RETURN_IF_ERROR(quant::CheckTensorKinds(kinds));
  COHORT_ASSIGN_OR_RETURN(std::vector<quant::LayerTensors> layers,
                          quant::GovernedTensorsByLayer(gguf, kinds));
  COHORT_RETURN_IF_ERROR(
      CheckExpertCounts(in.gguf, in.drop_map, layers, dropped, table.experts));
  quant::QuantPlanOptions options;
  options.target_bits_per_weight = in.target_bpw;
  COHORT_ASSIGN_OR_RETURN(
      options.ladder, quant::ParseTypeLadder(in.types.empty() ? quant::DefaultTypeLadder()
                                                              : in.types));
  absl::StatusOr<quant::KeptContributionResult> kept =
      quant::KeptContribution(table, cw.weights, dropped);
  if (!kept.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(in.drop_map, ".summary.json, ", in.data, ": ", kept.status().message()));
  }
  COHORT_ASSIGN_OR_RETURN(quant::QuantPlan plan,
                          quant::PlanLayerTypes(kept->by_layer, layers, options));

  for (const quant::LayerChoice& c : plan.layers) {
    std::printf("[quantmap] layer %d: kept contribution %.6f, %llu experts -> %s\n",
                c.tensors.layer, c.importance,
                static_cast<unsigned long long>(c.tensors.experts), c.type->name);
  }
  std::printf("[quantmap] %.4f bits per weight over the governed tensors (target %s)\n",
              plan.bits_per_weight, RoundTripDecimal(in.target_bpw).c_str());
  if (kept->unusable_cells > 0) {
    std::printf("[quantmap] %llu cells with NaN, infinite or negative mass counted as 0\n",
                static_cast<unsigned long long>(kept->unusable_cells));
  }
  quant::QuantMapSummary summary = quant::SummarizePlan(plan);
  summary.classes = cw.classes;
  summary.class_weights = cw.weights;
  summary.contribution = measure;
  summary.unusable_cells = kept->unusable_cells;
  COHORT_RETURN_IF_ERROR(
      WriteFileAtomically(in.output, absl::StrJoin(summary.rules, "\n") + "\n"));
  COHORT_RETURN_IF_ERROR(WriteFileAtomically(
      in.summary_output, DumpJson(quant::QuantMapSummaryToJson(summary), 1) + "\n"));
  std::printf("[quantmap] wrote %s and %s\n", in.output.c_str(), in.summary_output.c_str());
  return absl::OkStatus();
}

}  // namespace

void AddQuantmapCommand(CLI::App& app, CommandFn* selected) {
  CLI::App* cmd = app.add_subcommand(
      "quantmap",
      "Per-layer llama-quantize tensor types from contribution data and a drop map: more "
      "bits where the kept experts carry more contribution, within a target bits per weight.");
  auto invocation = std::make_shared<QuantmapInvocation>();
  invocation->AddFlags(cmd);
  cmd->callback([selected, invocation] {
    *selected = [invocation] { return ReportStatus("quantmap", MakeQuantMap(*invocation)); };
  });
}

}  // namespace cohort::worker
