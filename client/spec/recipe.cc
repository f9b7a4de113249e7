#include "client/spec/recipe.h"

#include <algorithm>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "worker/quant/quant_plan.h"
#include "worker/quant/tensor_type_map.h"

namespace cohort::client::spec_internal {
namespace {

using json = nlohmann::json;

enum class Type {
  kInt, kNonNegInt, kPositiveInt, kNumber, kPositiveNumber, kBool, kString,
  kChoice, kNumberList, kStringList, kIntPair,
  kTensorTypes,  // llama-quantize --tensor-type rules, checked as the worker checks them
  kTypeLadder,   // quantized ggml types of distinct bits per weight (quantmap.types)
  kTensorKinds   // blk.N.<kind>.weight kinds, at least one an expert kind (quantmap.tensors)
};

struct Param {
  Type type;
  std::vector<std::string> choices;
};

const std::vector<std::string>& Strategies() {
  static const auto* kList = new std::vector<std::string>{
      "max", "mean", "geomean", "sum", "lp4", "softmax_t4", "second",
      "top3mean"};
  return *kList;
}

std::vector<std::string> ProtectStrategies() {
  std::vector<std::string> out = {"same"};
  out.insert(out.end(), Strategies().begin(), Strategies().end());
  return out;
}

// Types llama-quantize accepts, plus "none".
std::vector<std::string> QuantTypes() {
  return {"none",   "Q4_0",   "Q4_1",    "Q5_0",    "Q5_1",   "Q8_0",
          "Q2_K",   "Q2_K_S", "Q3_K_S",  "Q3_K_M",  "Q3_K_L", "Q4_K_S",
          "Q4_K_M", "Q5_K_S", "Q5_K_M",  "Q6_K",    "IQ1_S",  "IQ1_M",
          "IQ2_XXS", "IQ2_XS", "IQ2_S",  "IQ2_M",   "IQ3_XXS", "IQ3_XS",
          "IQ3_S",  "IQ3_M",  "IQ4_NL",  "IQ4_XS",  "TQ1_0",  "TQ2_0",
          "MXFP4_MOE", "F16", "BF16",    "F32"};
}

using Table = std::map<std::string, std::map<std::string, Param>>;

const Table& Params() {
  static const auto* kTable = new Table{
      {"dropmap",
       {{"target", {Type::kPositiveInt, {}}},
        {"protect_top", {Type::kNonNegInt, {}}},
        {"alpha", {Type::kNumber, {}}},
        {"score_mode", {Type::kChoice, {"legacy", "mean"}}},
        {"strategy", {Type::kChoice, Strategies()}},
        {"normalize", {Type::kChoice, {"rank", "mean"}}},
        {"classes", {Type::kStringList, {}}},
        {"class_weights", {Type::kNumberList, {}}},
        {"protect_strategy", {Type::kChoice, ProtectStrategies()}},
        {"protect_class_weights", {Type::kNumberList, {}}},
        {"class_protect_floor", {Type::kNonNegInt, {}}},
        {"v4_floor_top", {Type::kNonNegInt, {}}},
        {"v4_floor_clamp", {Type::kIntPair, {}}},
        {"breadth_bonus", {Type::kNumber, {}}},
        {"protect_class_min", {Type::kStringList, {}}},
        {"outlier_wnorm_thresh", {Type::kNumber, {}}},
        {"outlier_mode", {Type::kChoice, {"keep", "median", "drop", "zero"}}}}},
      {"prune",
       {{"layout", {Type::kChoice,
                    {"", "gemma4", "mixtral", "qwen3moe", "deepseekv3",
                     "gptoss", "llama4"}}},
        {"suffix", {Type::kString, {}}},
        {"even_group_drop", {Type::kBool, {}}},
        {"fuse_upweight", {Type::kBool, {}}}}},
      {"upweight",
       {{"alpha", {Type::kPositiveNumber, {}}},
        {"target", {Type::kString, {}}}}},
      {"convert", {{"outtype", {Type::kChoice, {"bf16", "f16", "f32", "q8_0"}}}}},
      {"imatrix",
       {{"enabled", {Type::kBool, {}}}, {"chunks", {Type::kNonNegInt, {}}}}},
      {"quantmap",
       {// > 0: a quantmap step sets each layer's governed tensors' type
        {"target_bpw", {Type::kNumber, {}}},
        {"types", {Type::kTypeLadder, {}}},
        {"tensors", {Type::kTensorKinds, {}}}}},
      {"quantize",
       {{"type", {Type::kChoice, QuantTypes()}},
        // llama-quantize --tensor-type rules, "PATTERN=TYPE" (per-layer maps)
        {"tensor_types", {Type::kTensorTypes, {}}}}},
  };
  return *kTable;
}

absl::StatusOr<json> NumberList(const YNode& node) {
  json out = json::array();
  if (node.IsMap()) {
    // {math: 3, code: 1, ...}: one weight per class by name; submit puts
    // them in the classes' order (check.h, ResolveClassWeightMaps).
    out = json::object();
    COHORT_ASSIGN_OR_RETURN(auto entries, node.Entries());
    for (const auto& [name, value] : entries) {
      COHORT_ASSIGN_OR_RETURN(double v, value.AsDouble());
      out[name] = v;
    }
    return out;
  }
  if (node.IsScalar() && !node.IsQuoted()) {
    // "1 1 3 1 1 0 0 2", the way the flag is written on a command line.
    COHORT_ASSIGN_OR_RETURN(std::string text, node.AsString());
    for (absl::string_view part :
         absl::StrSplit(text, absl::ByAnyChar(" ,"), absl::SkipEmpty())) {
      double v = 0;
      if (!absl::SimpleAtod(part, &v)) {
        return node.Error(absl::StrCat("'", part, "' is not a number"));
      }
      out.push_back(v);
    }
  } else {
    COHORT_ASSIGN_OR_RETURN(std::vector<YNode> items, node.Items());
    for (const YNode& item : items) {
      COHORT_ASSIGN_OR_RETURN(double v, item.AsDouble());
      out.push_back(v);
    }
  }
  if (out.empty()) return node.Error("expected at least one number");
  return out;
}

absl::StatusOr<json> ParseTyped(const Param& param, const YNode& node) {
  switch (param.type) {
    case Type::kInt:
    case Type::kNonNegInt:
    case Type::kPositiveInt: {
      COHORT_ASSIGN_OR_RETURN(int64_t v, node.AsInt());
      if (param.type == Type::kNonNegInt && v < 0) return node.Error("must be >= 0");
      if (param.type == Type::kPositiveInt && v <= 0) return node.Error("must be > 0");
      return json(v);
    }
    case Type::kNumber:
    case Type::kPositiveNumber: {
      COHORT_ASSIGN_OR_RETURN(double v, node.AsDouble());
      if (param.type == Type::kPositiveNumber && v <= 0) return node.Error("must be > 0");
      return json(v);
    }
    case Type::kBool: {
      COHORT_ASSIGN_OR_RETURN(bool v, node.AsBool());
      return json(v);
    }
    case Type::kString: {
      COHORT_ASSIGN_OR_RETURN(std::string v, node.AsString());
      return json(v);
    }
    case Type::kChoice: {
      COHORT_ASSIGN_OR_RETURN(std::string v, node.AsString());
      if (std::find(param.choices.begin(), param.choices.end(), v) ==
          param.choices.end()) {
        return node.Error(absl::StrCat("'", v, "' is not one of: ",
                                       absl::StrJoin(param.choices, ", ")));
      }
      return json(v);
    }
    case Type::kNumberList:
      return NumberList(node);
    case Type::kStringList:
    case Type::kTensorTypes:
    case Type::kTypeLadder:
    case Type::kTensorKinds: {
      std::vector<std::string> texts;
      COHORT_ASSIGN_OR_RETURN(std::vector<YNode> items, node.Items());
      for (const YNode& item : items) {
        COHORT_ASSIGN_OR_RETURN(std::string v, item.AsString());
        texts.push_back(std::move(v));
      }
      if (param.type == Type::kTensorTypes) {
        absl::Status rules = worker::quant::ParseTensorTypeMap(texts).status();
        if (!rules.ok()) return node.Error(std::string(rules.message()));
      }
      if (param.type == Type::kTypeLadder) {
        absl::Status ladder = worker::quant::ParseTypeLadder(texts).status();
        if (!ladder.ok()) return node.Error(std::string(ladder.message()));
      }
      if (param.type == Type::kTensorKinds) {
        absl::Status kinds = worker::quant::CheckTensorKinds(texts);
        if (!kinds.ok()) return node.Error(std::string(kinds.message()));
      }
      return json(texts);
    }
    case Type::kIntPair: {
      COHORT_ASSIGN_OR_RETURN(std::vector<YNode> items, node.Items());
      if (items.size() != 2) return node.Error("expected [lo, hi]");
      COHORT_ASSIGN_OR_RETURN(int64_t lo, items[0].AsInt());
      COHORT_ASSIGN_OR_RETURN(int64_t hi, items[1].AsInt());
      if (lo > hi) return node.Error("lo must be <= hi");
      return json::array({lo, hi});
    }
  }
  return node.Error("unsupported type");
}

absl::Status RecipeError(const Where& where, const std::string& what) {
  return absl::InvalidArgumentError(where.Prefix() + what);
}

}  // namespace

const std::vector<std::string>& RecipeSections() {
  static const auto* kList = new std::vector<std::string>{
      "dropmap", "prune", "upweight", "convert", "imatrix", "quantmap", "quantize"};
  return *kList;
}

std::vector<std::string> RecipeKeys(const std::string& section) {
  std::vector<std::string> out;
  auto it = Params().find(section);
  if (it == Params().end()) return out;
  for (const auto& [key, param] : it->second) out.push_back(key);
  return out;
}

json DefaultRecipe() {
  return json{{"dropmap", json::object()},
              {"prune", {{"layout", ""}, {"suffix", ""},
                         {"even_group_drop", false}, {"fuse_upweight", true}}},
              {"upweight", {{"alpha", 1.0}, {"target", "mlp.down_proj.weight"}}},
              {"convert", {{"outtype", "bf16"}}},
              {"imatrix", {{"enabled", false}, {"chunks", 0}}},
              {"quantmap", {{"target_bpw", 0.0}}},
              {"quantize", {{"type", "Q6_K"}}}};
}

absl::StatusOr<json> ParseRecipeValue(const std::string& section,
                                      const std::string& key,
                                      const YNode& node) {
  auto s = Params().find(section);
  if (s == Params().end()) {
    return node.Error(absl::StrCat("unknown recipe section '", section,
                                   "' (expected one of: ",
                                   absl::StrJoin(RecipeSections(), ", "), ")"));
  }
  auto p = s->second.find(key);
  if (p == s->second.end()) {
    return node.Error(absl::StrCat("unknown ", section, " parameter '", key,
                                   "' (expected one of: ",
                                   absl::StrJoin(RecipeKeys(section), ", "), ")"));
  }
  return ParseTyped(p->second, node);
}

absl::Status ParseRecipeInto(const YNode& node, json* recipe,
                             std::map<std::string, Where>* origins) {
  COHORT_RETURN_IF_ERROR(node.CheckKeys(RecipeSections()));
  COHORT_ASSIGN_OR_RETURN(auto sections, node.Entries());
  for (const auto& [section, body] : sections) {
    if (body.IsNull()) continue;
    COHORT_RETURN_IF_ERROR(body.CheckKeys(RecipeKeys(section)));
    COHORT_ASSIGN_OR_RETURN(auto entries, body.Entries());
    for (const auto& [key, value] : entries) {
      COHORT_ASSIGN_OR_RETURN((*recipe)[section][key],
                              ParseRecipeValue(section, key, value));
      if (origins != nullptr) (*origins)[section + "." + key] = value.where();
    }
  }
  return absl::OkStatus();
}

Where ParamWhere(const Variant& variant, const std::string& param) {
  auto it = variant.origins.find(param);
  return it != variant.origins.end() ? it->second : variant.where;
}

Where PairWhere(const Variant& variant, const std::string& first,
                const std::string& second) {
  // A recipe default is shared by every variant; the value that makes this
  // variant differ is the one to point at.
  auto own = [&](const std::string& param) {
    auto it = variant.origins.find(param);
    return it != variant.origins.end() && !absl::StartsWith(it->second.key, "recipe.");
  };
  if (own(first)) return ParamWhere(variant, first);
  if (own(second)) return ParamWhere(variant, second);
  if (variant.origins.count(first) == 0 && variant.origins.count(second) > 0) {
    return ParamWhere(variant, second);
  }
  return ParamWhere(variant, first);
}

// quantmap.target_bpw > 0 needs a quantize step, and a target the ladder can
// reach (the worker would refuse it after the convert).
absl::Status ValidateQuantMap(const Variant& variant) {
  const json& qm = variant.recipe["quantmap"];
  const double target = qm.value("target_bpw", 0.0);
  if (target == 0) return absl::OkStatus();
  const std::string of = absl::StrCat("variant '", variant.name, "': ");
  if (target < 0) {
    return RecipeError(ParamWhere(variant, "quantmap.target_bpw"),
                       of + "quantmap.target_bpw must be > 0 (or 0: no map)");
  }
  if (variant.recipe["quantize"]["type"] == "none") {
    return RecipeError(PairWhere(variant, "quantmap.target_bpw", "quantize.type"),
                       of + "quantmap.target_bpw needs a quantize step (quantize.type is none)");
  }
  std::vector<std::string> names = worker::quant::DefaultTypeLadder();
  if (qm.contains("types")) names = qm["types"].get<std::vector<std::string>>();
  absl::StatusOr<std::vector<const worker::quant::GgmlTypeInfo*>> ladder =
      worker::quant::ParseTypeLadder(names);
  if (!ladder.ok()) return RecipeError(ParamWhere(variant, "quantmap.types"),
                                       of + std::string(ladder.status().message()));
  const double lowest = worker::quant::BitsPerWeight(*ladder->front());
  if (target < lowest) {
    return RecipeError(PairWhere(variant, "quantmap.target_bpw", "quantmap.types"),
                       absl::StrCat(of, "quantmap.target_bpw ", target,
                                    " is below the lowest type, ", ladder->front()->name, " (",
                                    lowest, " bits per weight)"));
  }
  return absl::OkStatus();
}

absl::Status ValidateRecipe(const Variant& variant) {
  const json& dm = variant.recipe["dropmap"];
  const std::string of = absl::StrCat("variant '", variant.name, "': ");
  if (!dm.contains("target")) {
    return RecipeError(variant.where, of + "recipe.dropmap.target is required (experts to "
                                           "keep per layer)");
  }
  if (dm.contains("classes")) {
    for (const char* weights : {"class_weights", "protect_class_weights"}) {
      if (dm.contains(weights) && dm["classes"].size() != dm[weights].size()) {
        return RecipeError(
            PairWhere(variant, absl::StrCat("dropmap.", weights), "dropmap.classes"),
            absl::StrCat(of, dm[weights].size(), " ", weights, " for ",
                         dm["classes"].size(), " classes (dropmap.classes)"));
      }
    }
  }
  if (dm.contains("protect_top") &&
      dm["protect_top"].get<int64_t>() > dm["target"].get<int64_t>()) {
    return RecipeError(PairWhere(variant, "dropmap.protect_top", "dropmap.target"),
                       absl::StrCat(of, "protect_top ", dm["protect_top"].get<int64_t>(),
                                    " exceeds target ", dm["target"].get<int64_t>()));
  }
  return ValidateQuantMap(variant);
}

}  // namespace cohort::client::spec_internal
