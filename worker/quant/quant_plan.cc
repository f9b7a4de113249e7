#include "worker/quant/quant_plan.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/json_fields.h"
#include "common/status_macros.h"

namespace cohort::worker::quant {
namespace {

using json = nlohmann::json;

// Weighted error left by `bits` bits per weight, up to a constant.
double Distortion(double bits) { return std::exp2(-2.0 * bits); }

// "blk.12.ffn_down_exps.weight" -> (12, "ffn_down_exps"); false otherwise.
bool SplitBlockTensor(absl::string_view name, int* layer, std::string* kind) {
  if (!absl::ConsumePrefix(&name, "blk.") || !absl::ConsumeSuffix(&name, ".weight")) {
    return false;
  }
  const size_t dot = name.find('.');
  if (dot == absl::string_view::npos || dot == 0 || dot > 6) return false;
  for (char c : name.substr(0, dot)) {
    if (c < '0' || c > '9') return false;
  }
  if (!absl::SimpleAtoi(name.substr(0, dot), layer)) return false;
  *kind = std::string(name.substr(dot + 1));
  return true;
}

}  // namespace

double BitsPerWeight(const GgmlTypeInfo& type) {
  return static_cast<double>(type.type_size) * 8.0 / static_cast<double>(type.block_size);
}

const std::vector<std::string>& DefaultExpertKinds() {
  static const auto* kKinds = new std::vector<std::string>{
      "ffn_gate_exps", "ffn_up_exps", "ffn_gate_up_exps", "ffn_down_exps"};
  return *kKinds;
}

bool IsExpertKind(const std::string& kind) { return absl::EndsWith(kind, "_exps"); }

absl::Status CheckTensorKinds(const std::vector<std::string>& kinds) {
  for (const std::string& kind : kinds) {
    const bool name = !kind.empty() && std::all_of(kind.begin(), kind.end(), [](char c) {
      return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_';
    });
    if (!name) {
      return absl::InvalidArgumentError(absl::StrCat(
          "quant map tensors: '", kind, "' is not a tensor kind (letters, digits and _, as in "
          "blk.N.<kind>.weight)"));
    }
  }
  if (std::none_of(kinds.begin(), kinds.end(), IsExpertKind)) {
    return absl::InvalidArgumentError(
        "quant map tensors: no expert kind (ffn_<x>_exps) among them: the layers are ranked by "
        "their kept experts");
  }
  return absl::OkStatus();
}

const std::vector<std::string>& DefaultTypeLadder() {
  static const auto* kLadder = new std::vector<std::string>{"q4_K", "q5_K", "q6_K", "q8_0"};
  return *kLadder;
}

absl::StatusOr<std::vector<const GgmlTypeInfo*>> ParseTypeLadder(
    const std::vector<std::string>& names) {
  if (names.empty()) return absl::InvalidArgumentError("quant map types: the list is empty");
  std::vector<const GgmlTypeInfo*> ladder;
  for (const std::string& name : names) {
    const GgmlTypeInfo* type = FindGgmlTypeByName(name);
    if (type == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("quant map types: '", name, "' is not a ggml type"));
    }
    if (!type->quantized) {
      return absl::InvalidArgumentError(absl::StrCat(
          "quant map types: ", type->name, " is not a quantized type"));
    }
    ladder.push_back(type);
  }
  std::stable_sort(ladder.begin(), ladder.end(),
                   [](const GgmlTypeInfo* a, const GgmlTypeInfo* b) {
                     return BitsPerWeight(*a) < BitsPerWeight(*b);
                   });
  for (size_t i = 1; i < ladder.size(); ++i) {
    if (BitsPerWeight(*ladder[i]) == BitsPerWeight(*ladder[i - 1])) {
      return absl::InvalidArgumentError(absl::StrCat(
          "quant map types: ", ladder[i - 1]->name, " and ", ladder[i]->name,
          " have the same bits per weight (", BitsPerWeight(*ladder[i]), ")"));
    }
  }
  return ladder;
}

absl::StatusOr<std::vector<LayerTensors>> GovernedTensorsByLayer(
    const GgufContents& gguf, const std::vector<std::string>& kinds) {
  std::map<int, LayerTensors> by_layer;
  for (const GgufTensorInfo& tensor : gguf.tensors) {
    int layer = 0;
    std::string kind;
    if (!SplitBlockTensor(tensor.name, &layer, &kind)) continue;
    if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) continue;
    const bool expert = IsExpertKind(kind);
    if (tensor.dims.size() != (expert ? 3u : 2u)) {
      return absl::InvalidArgumentError(absl::StrCat(
          gguf.file, ": ", tensor.name, " has ", tensor.dims.size(), " dimensions; ",
          expert ? "expert tensors have 3 (row, column, expert)"
                 : "a map governs matrices (2 dimensions) and expert tensors (3)"));
    }
    uint64_t elements = 1;
    for (uint64_t d : tensor.dims) elements *= d;
    LayerTensors& entry = by_layer[layer];
    entry.layer = layer;
    if (expert && entry.experts == 0) {
      entry.experts = tensor.dims[2];
    } else if (expert && entry.experts != tensor.dims[2]) {
      return absl::InvalidArgumentError(absl::StrCat(
          gguf.file, ": ", tensor.name, " has ", tensor.dims[2], " experts, layer ", layer,
          "'s other expert tensors ", entry.experts));
    }
    entry.elements += elements;
    entry.kinds.push_back(kind);
  }
  std::vector<LayerTensors> out;
  for (auto& [layer, entry] : by_layer) {
    // A layer without routed experts (a dense layer) has no kept
    // contribution to rank it by: the tier's own mix decides it.
    if (entry.experts == 0) continue;
    std::vector<std::string> ordered;  // kinds order, not file order
    for (const std::string& kind : kinds) {
      if (std::find(entry.kinds.begin(), entry.kinds.end(), kind) != entry.kinds.end()) {
        ordered.push_back(kind);
      }
    }
    entry.kinds = std::move(ordered);
    out.push_back(std::move(entry));
  }
  if (out.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        gguf.file, ": no expert tensor (blk.N.{", absl::StrJoin(kinds, ","), "}.weight)"));
  }
  return out;
}

absl::StatusOr<KeptContributionResult> KeptContribution(
    const ContributionTable& table, const std::vector<double>& class_weights,
    const std::vector<std::vector<int>>& dropped) {
  if (static_cast<int>(class_weights.size()) != table.classes) {
    return absl::InvalidArgumentError(absl::StrCat(
        class_weights.size(), " class weights for ", table.classes, " classes"));
  }
  double weight_sum = 0;
  for (double w : class_weights) {
    if (!std::isfinite(w) || w < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("class weight ", w, " is not a finite number >= 0"));
    }
    weight_sum += w;
  }
  if (weight_sum == 0) return absl::InvalidArgumentError("every class weight is 0");
  // kept[l][e]: not listed as dropped.
  std::vector<std::vector<char>> kept(table.layers, std::vector<char>(table.experts, 1));
  for (size_t l = 0; l < dropped.size() && l < kept.size(); ++l) {
    for (int id : dropped[l]) {
      if (id < 0 || id >= table.experts) {
        return absl::InvalidArgumentError(absl::StrCat(
            "layer ", l, " drops expert ", id, ", outside [0, ", table.experts, ")"));
      }
      kept[l][id] = 0;
    }
  }
  KeptContributionResult result;
  result.by_layer.assign(table.layers, 0.0);
  for (int c = 0; c < table.classes; ++c) {
    double total = 0;
    std::vector<double> kept_mass(table.layers, 0.0);
    for (int l = 0; l < table.layers; ++l) {
      for (int e = 0; e < table.experts; ++e) {
        double m = table.At(c, l, e);
        if (!std::isfinite(m) || m < 0) {
          ++result.unusable_cells;
          continue;
        }
        total += m;
        if (kept[l][e]) kept_mass[l] += m;
      }
    }
    if (total == 0 || class_weights[c] == 0) continue;
    for (int l = 0; l < table.layers; ++l) {
      result.by_layer[l] += class_weights[c] * (kept_mass[l] / total);
    }
  }
  return result;
}

absl::StatusOr<QuantPlan> PlanLayerTypes(const std::vector<double>& importance,
                                         const std::vector<LayerTensors>& layers,
                                         const QuantPlanOptions& options) {
  const std::vector<const GgmlTypeInfo*>& ladder = options.ladder;
  if (ladder.empty()) return absl::InvalidArgumentError("quant map: no types");
  const double target = options.target_bits_per_weight;
  const double lowest = BitsPerWeight(*ladder.front());
  if (!std::isfinite(target) || target < lowest) {
    return absl::InvalidArgumentError(absl::StrCat(
        "quant map: a target of ", target, " bits per weight is below the lowest type, ",
        ladder.front()->name, " (", lowest, ")"));
  }
  double elements = 0;
  for (const LayerTensors& layer : layers) {
    if (layer.layer < 0 || layer.layer >= static_cast<int>(importance.size())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "quant map: the model has expert layer ", layer.layer,
          ", the contribution data ", importance.size(), " layers"));
    }
    elements += static_cast<double>(layer.elements);
  }
  std::vector<size_t> level(layers.size(), 0);
  double bits = lowest * elements;
  const double budget = target * elements * (1 + 1e-12);
  while (true) {
    int best = -1;
    double best_gain = -1;
    for (size_t i = 0; i < layers.size(); ++i) {
      if (level[i] + 1 >= ladder.size()) continue;
      const double from = BitsPerWeight(*ladder[level[i]]);
      const double to = BitsPerWeight(*ladder[level[i] + 1]);
      const double cost = (to - from) * static_cast<double>(layers[i].elements);
      if (bits + cost > budget) continue;
      const double removed = importance[layers[i].layer] * (Distortion(from) - Distortion(to));
      const double gain = cost > 0 ? removed / cost : std::numeric_limits<double>::infinity();
      if (gain > best_gain) {
        best = static_cast<int>(i);
        best_gain = gain;
      }
    }
    if (best < 0) break;
    const double from = BitsPerWeight(*ladder[level[best]]);
    const double to = BitsPerWeight(*ladder[level[best] + 1]);
    bits += (to - from) * static_cast<double>(layers[best].elements);
    ++level[best];
  }
  QuantPlan plan;
  plan.ladder = ladder;
  plan.target_bits_per_weight = target;
  plan.bits_per_weight = elements > 0 ? bits / elements : lowest;
  for (size_t i = 0; i < layers.size(); ++i) {
    plan.layers.push_back({layers[i], importance[layers[i].layer], ladder[level[i]]});
  }
  return plan;
}

std::vector<std::string> PlanRules(const QuantPlan& plan) {
  std::vector<std::string> rules;
  for (const LayerChoice& choice : plan.layers) {
    const std::vector<std::string>& kinds = choice.tensors.kinds;
    std::string names = kinds.size() == 1 ? kinds[0]
                                          : absl::StrCat("(", absl::StrJoin(kinds, "|"), ")");
    rules.push_back(absl::StrCat("^blk\\.", choice.tensors.layer, "\\.", names,
                                 "\\.weight$=", choice.type->name));
  }
  return rules;
}

QuantMapSummary SummarizePlan(const QuantPlan& plan) {
  QuantMapSummary out;
  for (const GgmlTypeInfo* type : plan.ladder) out.types.push_back(type->name);
  out.target_bits_per_weight = plan.target_bits_per_weight;
  out.bits_per_weight = plan.bits_per_weight;
  for (const LayerChoice& choice : plan.layers) {
    out.layers.push_back({choice.tensors.layer, choice.importance, choice.tensors.experts,
                          choice.tensors.elements, choice.type->name});
  }
  out.rules = PlanRules(plan);
  return out;
}

json QuantMapSummaryToJson(const QuantMapSummary& s) {
  json layers = json::array();
  for (const QuantMapLayer& layer : s.layers) {
    layers.push_back({{"layer", layer.layer},
                      {"kept_contribution", layer.kept_contribution},
                      {"experts", layer.experts},
                      {"elements", layer.elements},
                      {"type", layer.type}});
  }
  return {{"types", s.types},
          {"target_bits_per_weight", s.target_bits_per_weight},
          {"bits_per_weight", s.bits_per_weight},
          {"layers", layers},
          {"rules", s.rules},
          {"classes", s.classes},
          {"class_weights", s.class_weights},
          {"contribution", s.contribution},
          {"unusable_cells", s.unusable_cells}};
}

absl::StatusOr<QuantMapSummary> QuantMapSummaryFromJson(const json& j, const std::string& where) {
  JsonFields s(j, where);
  COHORT_RETURN_IF_ERROR(s.CheckObject());
  QuantMapSummary out;
  COHORT_RETURN_IF_ERROR(s.Strings("types", &out.types));
  COHORT_RETURN_IF_ERROR(s.Double("target_bits_per_weight", &out.target_bits_per_weight));
  COHORT_RETURN_IF_ERROR(s.Double("bits_per_weight", &out.bits_per_weight));
  COHORT_ASSIGN_OR_RETURN(std::vector<JsonFields> layers, s.Elements("layers"));
  for (const JsonFields& l : layers) {
    COHORT_RETURN_IF_ERROR(l.CheckObject());
    QuantMapLayer& layer = out.layers.emplace_back();
    COHORT_RETURN_IF_ERROR(l.Int("layer", &layer.layer));
    COHORT_RETURN_IF_ERROR(l.Double("kept_contribution", &layer.kept_contribution));
    COHORT_RETURN_IF_ERROR(l.Uint("experts", &layer.experts));
    COHORT_RETURN_IF_ERROR(l.Uint("elements", &layer.elements));
    COHORT_RETURN_IF_ERROR(l.String("type", &layer.type));
  }
  COHORT_RETURN_IF_ERROR(s.Strings("rules", &out.rules));
  COHORT_RETURN_IF_ERROR(s.Strings("classes", &out.classes));
  COHORT_RETURN_IF_ERROR(s.Doubles("class_weights", &out.class_weights));
  COHORT_RETURN_IF_ERROR(s.String("contribution", &out.contribution));
  COHORT_RETURN_IF_ERROR(s.Uint("unusable_cells", &out.unusable_cells));
  return out;
}

}  // namespace cohort::worker::quant
