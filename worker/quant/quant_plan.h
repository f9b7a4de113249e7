// File: quant_plan.h
//
// Contribution-driven per-layer quantization (the seed's "ContribDynamic"
// quants): the governed tensors of the layers whose kept experts carry the
// most contribution get more bits, within a target average bits per weight
// over those tensors. By default a layer's routed-expert tensors are
// governed; any other matrices of the layer (attention, the shared expert)
// may be added and then take their layer's type. The result is a
// llama-quantize tensor-type map, one rule per layer
// (`^blk\.7\.(ffn_down_exps|ffn_gate_up_exps|attn_v)\.weight$=q6_K`).
//
//   COHORT_ASSIGN_OR_RETURN(auto layers, GovernedTensorsByLayer(gguf, DefaultExpertKinds()));
//   COHORT_ASSIGN_OR_RETURN(auto importance, KeptContribution(contribution, weights, dropped));
//   COHORT_ASSIGN_OR_RETURN(QuantPlan plan, PlanLayerTypes(importance, layers, options));
//   std::vector<std::string> rules = PlanRules(plan);   // PATTERN=TYPE
//
// The allocation. Layer l's importance I_l is the class-weighted share of
// contribution its kept experts carry: for each class c, the mass of l's
// kept experts over the class's mass in all layers (dropped experts
// included), so a class with more traces does not outweigh one with fewer;
// then sum_c w_c * share_c(l). Quantization error of a tensor falls about
// fourfold per extra bit (distortion ~ 2^(-2b)), so moving layer l from b to
// b' bits removes about I_l * (2^(-2b) - 2^(-2b')) of weighted error for
// (b' - b) * elements(l) bits. Every layer starts at the ladder's lowest
// type; the upgrade with the most error removed per bit that still fits the
// budget (target * elements) is taken until none fits. The gain per bit
// falls with each step of a layer, so this greedy order is the one a convex
// allocation takes; ties go to the lower layer.
//
// Pure: no I/O. Thread-compatible.
#ifndef COHORT_WORKER_QUANT_QUANT_PLAN_H_
#define COHORT_WORKER_QUANT_QUANT_PLAN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "worker/quant/ggml_types.h"
#include "worker/quant/gguf_reader.h"

namespace cohort::worker::quant {

// type_size * 8 / block_size: q4_K 4.5, q5_K 5.5, q6_K 6.5625, q8_0 8.5.
double BitsPerWeight(const GgmlTypeInfo& type);

// The tensor kinds a map governs by default: the routed experts' weights
// (blk.N.<kind>.weight), separate or fused gate/up.
const std::vector<std::string>& DefaultExpertKinds();

// llama.cpp names routed-expert tensors ffn_<x>_exps (3-D, experts last).
bool IsExpertKind(const std::string& kind);

// A list of kinds a map may govern: names of letters, digits and '_' (the
// <kind> of blk.N.<kind>.weight; they go into the rules' patterns), at
// least one of them an expert kind (they rank the layers).
// kInvalidArgument naming the entry.
absl::Status CheckTensorKinds(const std::vector<std::string>& kinds);

// The default ladder, lowest first: q4_K q5_K q6_K q8_0.
const std::vector<std::string>& DefaultTypeLadder();

// Names to types, sorted by bits per weight. kInvalidArgument naming the
// entry for an unknown or unquantized type (f16, bf16), two types of the
// same bits per weight, or an empty list.
absl::StatusOr<std::vector<const GgmlTypeInfo*>> ParseTypeLadder(
    const std::vector<std::string>& names);

// One layer's governed tensors.
struct LayerTensors {
  int layer = 0;
  uint64_t elements = 0;      // all governed tensors of the layer
  uint64_t experts = 0;       // the expert dimension (ne[2]) its expert tensors share
  std::vector<std::string> kinds;  // the kinds present, in `kinds` order
};

// Tensors named blk.<n>.<kind>.weight, by layer (ascending), for the layers
// that hold an expert tensor of `kinds`; a layer without one (a dense layer)
// is left out: no kept contribution ranks it. kInvalidArgument naming the
// tensor when an expert kind (IsExpertKind) is not 3-D or another kind is
// not 2-D (a norm is not quantized), when two expert kinds of a layer
// disagree on the expert count, or when no expert tensor matched at all.
absl::StatusOr<std::vector<LayerTensors>> GovernedTensorsByLayer(
    const GgufContents& gguf, const std::vector<std::string>& kinds);

// Contribution mass per cell, [class][layer][expert] row-major.
struct ContributionTable {
  int classes = 0;
  int layers = 0;
  int experts = 0;
  std::vector<double> mass;
  double At(int c, int l, int e) const {
    return mass[(static_cast<size_t>(c) * layers + l) * experts + e];
  }
};

struct KeptContributionResult {
  std::vector<double> by_layer;  // I_l, [layers]
  uint64_t unusable_cells = 0;   // NaN, infinite or negative mass: counted as 0
};

// I_l for every layer (see the file comment). `dropped[l]` lists layer l's
// dropped expert ids. kInvalidArgument for a weight count that is not the
// class count, weights that are negative, not finite or all zero, or a
// dropped id outside [0, experts).
absl::StatusOr<KeptContributionResult> KeptContribution(
    const ContributionTable& table, const std::vector<double>& class_weights,
    const std::vector<std::vector<int>>& dropped);

struct QuantPlanOptions {
  double target_bits_per_weight = 0;
  std::vector<const GgmlTypeInfo*> ladder;  // ParseTypeLadder's order
};

struct LayerChoice {
  LayerTensors tensors;
  double importance = 0;
  const GgmlTypeInfo* type = nullptr;
};

struct QuantPlan {
  std::vector<LayerChoice> layers;  // ascending layer
  std::vector<const GgmlTypeInfo*> ladder;
  double target_bits_per_weight = 0;
  double bits_per_weight = 0;  // achieved over the governed tensors, <= target
};

// `importance` is indexed by layer number; every layer of `layers` must be
// within it. kInvalidArgument when a target is below the ladder's lowest
// type (no plan fits) or not finite, or a layer has no importance entry.
// A target at or above the highest type gives every layer the highest.
absl::StatusOr<QuantPlan> PlanLayerTypes(const std::vector<double>& importance,
                                         const std::vector<LayerTensors>& layers,
                                         const QuantPlanOptions& options);

// One llama-quantize rule per layer, ascending layer: the pattern matches
// that layer's governed tensors and nothing else.
std::vector<std::string> PlanRules(const QuantPlan& plan);

// quant_map.json, the JSON result of `cohort-worker quantmap`
// (--summary-output): the ladder, the target and achieved bits per weight,
// per layer its importance, experts, elements and type, the llama-quantize
// rules, and what the importance was computed from. The quantize step reads
// the target back (the report's tier table). QuantMapSummaryTest
// round-trips every field.
struct QuantMapLayer {
  int64_t layer = 0;
  double kept_contribution = 0;  // I_l
  uint64_t experts = 0;
  uint64_t elements = 0;
  std::string type;  // ggml type name
};

struct QuantMapSummary {
  std::vector<std::string> types;  // the ladder
  double target_bits_per_weight = 0;
  double bits_per_weight = 0;
  std::vector<QuantMapLayer> layers;
  std::vector<std::string> rules;  // PlanRules
  std::vector<std::string> classes;    // the drop map's classes_used
  std::vector<double> class_weights;   // and weights_used
  std::string contribution;            // the measure: "wnorm", ...
  uint64_t unusable_cells = 0;         // KeptContributionResult's
};

// The plan's part of the summary (types, targets, layers, rules).
QuantMapSummary SummarizePlan(const QuantPlan& plan);
nlohmann::json QuantMapSummaryToJson(const QuantMapSummary& summary);
// kInvalidArgument naming the member ("quant_map.json.layers[2].type is
// missing"); `where` names the text.
absl::StatusOr<QuantMapSummary> QuantMapSummaryFromJson(const nlohmann::json& json,
                                                        const std::string& where);

}  // namespace cohort::worker::quant

#endif  // COHORT_WORKER_QUANT_QUANT_PLAN_H_
