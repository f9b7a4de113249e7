// File: layout.h
//
// The table of MoE checkpoint layouts the expert drop understands (spec
// docs/pruning.md §3.1, §3.3). Each layout lists its per-layer expert tensors
// explicitly, by name pattern; nothing is guessed from shapes (E can equal
// another dimension). Patterns use `{L}` (layer number), `{E}` (expert
// number, per-expert layouts only) and an optional trailing `*` (prefix
// match: the Gemma 4 reference matches its regexes at the start only).
//
// Roles:
//   kRouterRows  router weight/bias/scale rows: sliced on dim 0 (dim 0 == E)
//   kStacked     all experts in one tensor: sliced on dim 0 (dim 0 == E)
//   kPerExpert   one tensor per expert: dropped ones deleted, kept ones
//                renumbered densely 0..K-1 in keep order
// Any other tensor under a layout's expert prefix is an error (an unknown
// per-expert tensor must not be copied with stale numbering).
#ifndef COHORT_WORKER_PRUNE_LAYOUT_H_
#define COHORT_WORKER_PRUNE_LAYOUT_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "worker/prune/safetensors_index.h"

namespace cohort::worker::prune {

enum class TensorRole { kRouterRows, kStacked, kPerExpert };

struct TensorRule {
  TensorRole role;
  std::string pattern;
};

struct LayoutSpec {
  std::string name;                      // "gemma4", "mixtral", ...
  std::vector<std::string> model_types;  // config model_type values
  std::string scope;         // config object holding the MoE keys ("" = top)
  std::string count_key;     // expert count read from `scope`
  std::vector<std::string> top_k_keys;  // all kept consistent, >= 1 present
  std::vector<TensorRule> rules;
  std::vector<std::string> expert_prefixes;  // with {L}
  std::vector<std::string> shared_prefixes;  // always-on shared expert
  std::string upweight_target;               // default --target suffix
  bool every_layer_moe = false;  // drop map must cover 0..num_hidden_layers-1
  bool group_limited = false;    // DeepSeek n_group/topk_group routing
  std::string base_model;        // expert_drop_metadata.json base_model
};

// Every layout: gemma4, mixtral, qwen3moe, deepseekv3, gptoss, llama4.
const std::vector<LayoutSpec>& AllLayouts();

// kInvalidArgument naming the known layouts when `name` is unknown.
absl::StatusOr<const LayoutSpec*> FindLayout(absl::string_view name);

// The layout whose model_type matches config's model_type (top level or
// text_config). kInvalidArgument when none does.
absl::StatusOr<const LayoutSpec*> DetectLayout(const OrderedJson& config,
                                               const std::string& config_path);

struct RuleMatch {
  const TensorRule* rule = nullptr;
  int layer = -1;
  int expert = -1;        // kPerExpert only
  size_t expert_pos = 0;  // where the expert number sits in the name
  size_t expert_len = 0;
};

// The rule `name` matches, if any.
std::optional<RuleMatch> MatchTensor(const LayoutSpec& layout,
                                     absl::string_view name);

// The layer of an expert-prefix tensor (matched or not); nullopt otherwise.
std::optional<int> ExpertBlockLayer(const LayoutSpec& layout,
                                    absl::string_view name);

// True when `name` belongs to a shared (always-on) expert.
bool IsSharedExpertTensor(const LayoutSpec& layout, absl::string_view name);

// `name` with its expert number replaced by `new_expert`.
std::string RenumberExpert(absl::string_view name, const RuleMatch& match,
                           int new_expert);

// Matches one pattern; exposed for tests.
bool MatchPattern(absl::string_view pattern, absl::string_view name,
                  RuleMatch* match);

}  // namespace cohort::worker::prune

#endif  // COHORT_WORKER_PRUNE_LAYOUT_H_
