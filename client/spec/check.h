// File: check.h
//
// A spec against the files it names, before anything is hashed or sent: the
// dropmap values each variant would run with are checked against the base
// model's config.json and the contribution file's metadata, so a target
// above the expert count, a weight list of the wrong length or contribution
// data of another shape fails at submit, with the spec position of the
// value, rather than in a dropmap or prune step hours later (docs/cli.md,
// "Checks against the model and the contribution data").
//
//   COHORT_ASSIGN_OR_RETURN(Spec spec, ParseSpecFile(path));
//   COHORT_RETURN_IF_ERROR(CheckSpecAgainstInputs(spec));
//
// Inputs given by digest only, or by a path that does not exist (ResolveInputs
// reports that), are not read, and what a file does not declare is not
// checked: the step that reads the file reports it. The contribution file
// can be hundreds of MB: only its top-level "metadata" value is read, by a
// streaming scan that stops there; the cells are never parsed.
#ifndef COHORT_CLIENT_SPEC_CHECK_H_
#define COHORT_CLIENT_SPEC_CHECK_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/spec/spec.h"
#include "nlohmann/json.hpp"

namespace cohort::client {

// kInvalidArgument "<spec>:<line>:<column>: <key>: <what>" for the first
// value that contradicts the inputs:
//   - contrib (or v4_data) declares metadata.num_experts / num_layers other
//     than the model's (the layer rule: ModelShape::moe_layers_known);
//   - a variant's dropmap.target < 1 or above the expert count (the model's,
//     else the contribution file's);
//   - protect_top > target;
//   - a dropmap.classes entry that is not a category of the contribution file;
//   - class_weights or protect_class_weights with another length than the
//     classes (dropmap.classes if given, else metadata.categories).
// Errors about a variant's value point at the line the value was written on
// (the grid entry, the variant's override or the recipe default).
absl::Status CheckSpecAgainstInputs(const Spec& spec);

// Turns `class_weights` / `protect_class_weights` written as a map ({math: 3,
// code: 1, ...}) into the list the generator takes, in the order of the
// classes: dropmap.classes, else the contribution file's
// metadata.categories. Every class needs a weight and every name must be a
// class (kInvalidArgument at the value's spec position). Run before the
// graph is expanded, so a map and the equal list give the same step keys.
absl::Status ResolveClassWeightMaps(Spec& spec);

// What a checkpoint folder's config.json says about its shape.
struct ModelShape {
  std::string config_path;
  // The first of num_experts, num_local_experts, n_routed_experts,
  // moe_num_experts present as a positive integer, at the top level or (when
  // the top level has none) under text_config; -1 when none is.
  int64_t experts = -1;
  std::string experts_key;  // "num_experts" or "text_config.num_experts"
  int64_t layers = -1;      // num_hidden_layers beside it; -1 when absent
  // False when the config says some layers have no MoE block
  // (first_k_dense_replace > 0, decoder_sparse_step > 1, a non-empty
  // mlp_only_layers, moe_layer_freq != 1, interleave_moe_layer_step > 1,
  // expert_layer_period > 1, moe_layer_start_index > 0, moe_layer_interval
  // > 1, or one of these with a value of another type): then a contribution
  // file may count only the MoE layers, and its num_layers is only checked
  // to be at most `layers`.
  bool moe_layers_known = true;
  std::string dense_hint;  // the key that made moe_layers_known false
};

// Reads <folder>/config.json. kInvalidArgument (naming the file) when it is
// missing, unreadable or not a JSON object.
absl::StatusOr<ModelShape> ReadModelShape(const std::string& folder);

// What a v5 contribution file's metadata declares; -1 / nullopt for what it
// does not.
struct ContribShape {
  int64_t experts = -1;  // metadata.num_experts
  int64_t layers = -1;   // metadata.num_layers
  // metadata.categories: a list of class names, or the keys of an object, in
  // the file's order.
  std::optional<std::vector<std::string>> categories;
};

// The value of the top-level "metadata" key of a JSON file, read by a
// streaming scan that stops after it (at most 64 MiB of metadata; the rest
// of the file is skipped without parsing, bare NaN/Infinity included);
// null when the file has no such key. kInvalidArgument naming the file and
// the byte offset when the file is not a JSON object up to there.
absl::StatusOr<nlohmann::ordered_json> ReadContribMetadata(const std::string& path);

// The shape `metadata` declares. kInvalidArgument when a field is present
// but unusable (num_experts not a number, categories neither a list of
// names nor an object).
absl::StatusOr<ContribShape> ContribShapeOf(const nlohmann::ordered_json& metadata,
                                            const std::string& source);

}  // namespace cohort::client

#endif  // COHORT_CLIENT_SPEC_CHECK_H_
