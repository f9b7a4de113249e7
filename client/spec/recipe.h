// File: recipe.h
//
// The recipe parameters a spec may set and a grid may vary, one table for
// both, so that a typo or a bad value is caught with its file, line and key
// before anything is submitted. Sections and keys:
//
//   dropmap   every `cohort-worker dropmap` flag that is not an input or an
//             output (docs/steps.md), snake_case: target, protect_top, alpha,
//             score_mode, strategy, normalize, classes, class_weights,
//             protect_strategy, protect_class_weights, class_protect_floor,
//             v4_floor_top, v4_floor_clamp, breadth_bonus, protect_class_min,
//             outlier_wnorm_thresh, outlier_mode
//   prune     layout, suffix, even_group_drop, fuse_upweight
//   upweight  alpha (the shared expert's), target (tensor name suffix)
//   convert   outtype
//   imatrix   enabled, chunks
//   quantmap  target_bpw (> 0: per-layer expert types from the contribution
//             data and the drop map, docs/steps.md), types (the ladder),
//             tensors (kinds per layer: expert kinds rank the layers, other
//             matrices such as attn_v take their layer's type)
//   quantize  type ("none": evaluate the converted GGUF), tensor_types
#ifndef COHORT_CLIENT_SPEC_RECIPE_H_
#define COHORT_CLIENT_SPEC_RECIPE_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/spec/spec.h"
#include "client/spec/yaml_reader.h"
#include "nlohmann/json.hpp"

namespace cohort::client::spec_internal {

const std::vector<std::string>& RecipeSections();
std::vector<std::string> RecipeKeys(const std::string& section);

// The recipe every spec starts from (upweight off, Q6_K, bf16 convert).
nlohmann::json DefaultRecipe();

// Checks `node` as the value of `section`.`key` and returns it in the form
// that goes into step params (class weights "1 1 3" -> [1, 1, 3]).
absl::StatusOr<nlohmann::json> ParseRecipeValue(const std::string& section,
                                                const std::string& key,
                                                const YNode& node);

// Parses a recipe mapping ({section: {key: value}}) over `base`. With
// `origins`, records where each parameter was written ("dropmap.target" ->
// its value's position and key path).
absl::Status ParseRecipeInto(const YNode& node, nlohmann::json* recipe,
                             std::map<std::string, Where>* origins = nullptr);

// Where `variant` got recipe parameter `param` ("dropmap.target"): the
// grid value, the variant's override or the recipe default; the variant's
// own position when the parameter is at its default.
Where ParamWhere(const Variant& variant, const std::string& param);

// For an error about two parameters together: the position of the one the
// variant itself set (a grid value or a variant override) rather than a
// recipe default, `first` when both or neither are.
Where PairWhere(const Variant& variant, const std::string& first,
                const std::string& second);

// Checks a complete variant recipe: required keys and cross-key rules
// (protect_top <= target, one weight per class of `classes`). Errors point
// at the parameter's position (ParamWhere) and name the variant.
absl::Status ValidateRecipe(const Variant& variant);

}  // namespace cohort::client::spec_internal

#endif  // COHORT_CLIENT_SPEC_RECIPE_H_
