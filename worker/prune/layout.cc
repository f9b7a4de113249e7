#include "worker/prune/layout.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace cohort::worker::prune {
namespace {

constexpr TensorRole kRouter = TensorRole::kRouterRows;
constexpr TensorRole kStacked = TensorRole::kStacked;
constexpr TensorRole kPerExpert = TensorRole::kPerExpert;

LayoutSpec Gemma4() {
  const std::string p = "model.language_model.layers.{L}.";
  LayoutSpec s;
  s.name = "gemma4";
  s.model_types = {"gemma4", "gemma4_text"};
  s.scope = "text_config";
  s.count_key = "num_experts";
  s.top_k_keys = {"top_k_experts"};
  // Prefix matches, as expert_drop.py's re.match does.
  s.rules = {{kStacked, p + "experts.gate_up_proj*"},
             {kStacked, p + "experts.down_proj*"},
             {kRouter, p + "router.proj.weight*"},
             {kRouter, p + "router.per_expert_scale*"}};
  s.expert_prefixes = {p + "experts."};
  s.shared_prefixes = {p + "mlp."};
  s.upweight_target = "mlp.down_proj.weight";
  s.every_layer_moe = true;
  s.base_model = "google/gemma-4-26B-A4B-it";
  return s;
}

LayoutSpec Mixtral() {
  const std::string p = "model.layers.{L}.block_sparse_moe.";
  LayoutSpec s;
  s.name = "mixtral";
  s.model_types = {"mixtral"};
  s.count_key = "num_local_experts";
  s.top_k_keys = {"num_experts_per_tok"};
  for (const char* w : {"w1", "w2", "w3"}) {
    s.rules.push_back({kPerExpert, p + "experts.{E}." + w + ".weight"});
  }
  s.rules.push_back({kRouter, p + "gate.weight"});
  s.expert_prefixes = {p + "experts."};
  return s;
}

void AddGateUpDown(LayoutSpec& s, const std::string& prefix,
                   const std::vector<std::string>& params) {
  for (const char* proj : {"gate_proj", "up_proj", "down_proj"}) {
    for (const std::string& param : params) {
      s.rules.push_back({kPerExpert, prefix + proj + "." + param});
    }
  }
}

LayoutSpec Qwen3Moe() {
  const std::string p = "model.layers.{L}.mlp.";
  LayoutSpec s;
  s.name = "qwen3moe";
  s.model_types = {"qwen3_moe", "qwen2_moe", "qwen3_next", "olmoe"};
  s.count_key = "num_experts";
  s.top_k_keys = {"num_experts_per_tok"};
  AddGateUpDown(s, p + "experts.{E}.", {"weight"});
  s.rules.push_back({kRouter, p + "gate.weight"});
  s.expert_prefixes = {p + "experts."};
  s.shared_prefixes = {p + "shared_expert.", p + "shared_expert_gate."};
  s.upweight_target = "mlp.shared_expert.down_proj.weight";
  return s;
}

LayoutSpec DeepseekV3() {
  const std::string p = "model.layers.{L}.mlp.";
  LayoutSpec s;
  s.name = "deepseekv3";
  s.model_types = {"deepseek_v3", "deepseek_v2"};
  s.count_key = "n_routed_experts";
  s.top_k_keys = {"num_experts_per_tok"};
  // FP8 checkpoints: weight_scale_inv moves with its weight.
  AddGateUpDown(s, p + "experts.{E}.", {"weight", "weight_scale_inv"});
  s.rules.push_back({kRouter, p + "gate.weight"});
  s.rules.push_back({kRouter, p + "gate.e_score_correction_bias"});
  s.expert_prefixes = {p + "experts."};
  s.shared_prefixes = {p + "shared_experts."};
  s.upweight_target = "mlp.shared_experts.down_proj.weight";
  s.group_limited = true;
  return s;
}

LayoutSpec GptOss() {
  const std::string p = "model.layers.{L}.mlp.";
  LayoutSpec s;
  s.name = "gptoss";
  s.model_types = {"gpt_oss"};
  s.count_key = "num_local_experts";
  s.top_k_keys = {"num_experts_per_tok", "experts_per_token"};
  for (const char* t :
       {"gate_up_proj_blocks", "gate_up_proj_scales", "gate_up_proj_bias",
        "down_proj_blocks", "down_proj_scales", "down_proj_bias",
        "gate_up_proj", "down_proj"}) {
    s.rules.push_back({kStacked, p + "experts." + t});
  }
  s.rules.push_back({kRouter, p + "router.weight"});
  s.rules.push_back({kRouter, p + "router.bias"});
  s.expert_prefixes = {p + "experts."};
  return s;
}

LayoutSpec Llama4() {
  const std::string p = "language_model.model.layers.{L}.feed_forward.";
  LayoutSpec s;
  s.name = "llama4";
  s.model_types = {"llama4"};
  s.scope = "text_config";
  s.count_key = "num_local_experts";
  s.top_k_keys = {"num_experts_per_tok"};
  s.rules = {{kStacked, p + "experts.gate_up_proj"},
             {kStacked, p + "experts.down_proj"},
             {kRouter, p + "router.weight"}};
  s.expert_prefixes = {p + "experts."};
  s.shared_prefixes = {p + "shared_expert."};
  s.upweight_target = "feed_forward.shared_expert.down_proj.weight";
  return s;
}

// Consumes one or more decimal digits; false if none.
bool ConsumeNumber(absl::string_view name, size_t& pos, int* value) {
  size_t start = pos;
  long long v = 0;
  while (pos < name.size() && name[pos] >= '0' && name[pos] <= '9') {
    v = v * 10 + (name[pos] - '0');
    if (v > 1000000000) return false;
    ++pos;
  }
  *value = static_cast<int>(v);
  return pos > start;
}

std::string ModelType(const OrderedJson& object) {
  if (!object.is_object()) return "";
  auto it = object.find("model_type");
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

const std::vector<LayoutSpec>& AllLayouts() {
  static const std::vector<LayoutSpec>* layouts = new std::vector<LayoutSpec>{
      Gemma4(), Mixtral(), Qwen3Moe(), DeepseekV3(), GptOss(), Llama4()};
  return *layouts;
}

absl::StatusOr<const LayoutSpec*> FindLayout(absl::string_view name) {
  std::vector<std::string> names;
  for (const LayoutSpec& layout : AllLayouts()) {
    if (layout.name == name) return &layout;
    names.push_back(layout.name);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown layout \"", name, "\" (known: ", absl::StrJoin(names, ", "),
      ")"));
}

absl::StatusOr<const LayoutSpec*> DetectLayout(const OrderedJson& config,
                                               const std::string& config_path) {
  std::vector<std::string> types = {ModelType(config)};
  if (config.is_object() && config.contains("text_config")) {
    types.push_back(ModelType(config["text_config"]));
  }
  for (const std::string& type : types) {
    for (const LayoutSpec& layout : AllLayouts()) {
      for (const std::string& known : layout.model_types) {
        if (!type.empty() && type == known) return &layout;
      }
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      config_path, ": model_type \"", types[0],
      "\" is not a known MoE layout; pass --layout"));
}

bool MatchPattern(absl::string_view pattern, absl::string_view name,
                  RuleMatch* match) {
  size_t pos = 0;
  for (size_t i = 0; i < pattern.size();) {
    if (pattern[i] == '*' && i + 1 == pattern.size()) return true;
    if (pattern.substr(i, 3) == "{L}" || pattern.substr(i, 3) == "{E}") {
      bool expert = pattern[i + 1] == 'E';
      size_t start = pos;
      int value = 0;
      if (!ConsumeNumber(name, pos, &value)) return false;
      if (expert) {
        match->expert = value;
        match->expert_pos = start;
        match->expert_len = pos - start;
      } else {
        match->layer = value;
      }
      i += 3;
      continue;
    }
    if (pos >= name.size() || name[pos] != pattern[i]) return false;
    ++pos;
    ++i;
  }
  return pos == name.size();
}

std::optional<RuleMatch> MatchTensor(const LayoutSpec& layout,
                                     absl::string_view name) {
  for (const TensorRule& rule : layout.rules) {
    RuleMatch match;
    if (MatchPattern(rule.pattern, name, &match)) {
      match.rule = &rule;
      return match;
    }
  }
  return std::nullopt;
}

std::optional<int> ExpertBlockLayer(const LayoutSpec& layout,
                                    absl::string_view name) {
  for (const std::string& prefix : layout.expert_prefixes) {
    RuleMatch match;
    if (MatchPattern(prefix + "*", name, &match)) return match.layer;
  }
  return std::nullopt;
}

bool IsSharedExpertTensor(const LayoutSpec& layout, absl::string_view name) {
  for (const std::string& prefix : layout.shared_prefixes) {
    RuleMatch match;
    if (MatchPattern(prefix + "*", name, &match)) return true;
  }
  return false;
}

std::string RenumberExpert(absl::string_view name, const RuleMatch& match,
                           int new_expert) {
  return absl::StrCat(name.substr(0, match.expert_pos), new_expert,
                      name.substr(match.expert_pos + match.expert_len));
}

}  // namespace cohort::worker::prune
