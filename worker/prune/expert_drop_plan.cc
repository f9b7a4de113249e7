#include "worker/prune/expert_drop_plan.h"

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"

namespace cohort::worker::prune {
namespace {

absl::Status Invalid(absl::string_view a, absl::string_view b = "",
                     absl::string_view c = "", absl::string_view d = "") {
  return absl::InvalidArgumentError(absl::StrCat(a, b, c, d));
}

// Python int() of a layer key: optional surrounding blanks, digits.
bool ParseLayerKey(const std::string& key, int* layer) {
  std::string trimmed(absl::StripAsciiWhitespace(key));
  if (trimmed.empty() || trimmed.size() > 9) return false;
  for (char c : trimmed) {
    if (c < '0' || c > '9') return false;
  }
  return absl::SimpleAtoi(trimmed, layer);
}

absl::StatusOr<int> IntField(const OrderedJson* scope, const std::string& key,
                             const std::string& where) {
  if (scope == nullptr || !scope->contains(key) ||
      !(*scope)[key].is_number_integer()) {
    return Invalid("config.json: ", where, key, " is missing or not an integer");
  }
  return (*scope)[key].get<int>();
}

struct LayerScan {
  std::set<int> moe_layers;
};

absl::StatusOr<LayerScan> ScanLayers(const LayoutSpec& layout,
                                     const ModelIndex& index) {
  LayerScan scan;
  for (const auto& [name, shard] : index.weight_map) {
    std::optional<RuleMatch> match = MatchTensor(layout, name);
    if (match) {
      scan.moe_layers.insert(match->layer);
      continue;
    }
    if (ExpertBlockLayer(layout, name)) {
      return Invalid(index.path, ": tensor \"", name,
                     absl::StrCat("\" is inside an expert block but not in the ",
                                  layout.name,
                                  " layout table; refusing to guess how to drop it"));
    }
  }
  return scan;
}

absl::Status CheckDropList(int layer, const std::vector<int>& ids, int experts,
                           size_t n_drop, const std::string& path) {
  std::set<int> seen;
  for (int id : ids) {
    if (id < 0 || id >= experts) {
      return Invalid(path, absl::StrCat(": layer ", layer, ": expert id ", id,
                                        " is outside 0..", experts - 1));
    }
    if (!seen.insert(id).second) {
      return Invalid(path, absl::StrCat(": layer ", layer, ": expert id ", id,
                                        " is listed twice"));
    }
  }
  if (ids.size() != n_drop) {
    return Invalid(path, absl::StrCat(": layer ", layer, " drops ", ids.size(),
                                      " experts but the first MoE layer drops ", n_drop,
                                      "; the expert count is one global value"));
  }
  return absl::OkStatus();
}

absl::Status CheckGroups(const OrderedJson* scope, const ExpertDropMap& drop_map,
                         int experts, size_t n_drop, bool even_group_drop) {
  if (scope == nullptr || !scope->contains("n_group") ||
      !(*scope)["n_group"].is_number_integer()) {
    return absl::OkStatus();
  }
  int groups = (*scope)["n_group"].get<int>();
  if (groups <= 1) return absl::OkStatus();
  if (!even_group_drop) {
    return absl::FailedPreconditionError(absl::StrCat(
        "config.json: group-limited routing (n_group = ", groups,
        "): dropping experts changes which experts each group offers; pass "
        "--even-group-drop to drop the same number from every group"));
  }
  if (experts % groups != 0 || n_drop % static_cast<size_t>(groups) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "group-limited routing: ", experts, " experts and ", n_drop,
        " drops per layer do not divide evenly into n_group = ", groups));
  }
  int group_size = experts / groups;
  for (const auto& [layer, ids] : drop_map.layers) {
    std::vector<size_t> per_group(static_cast<size_t>(groups), 0);
    for (int id : ids) ++per_group[static_cast<size_t>(id / group_size)];
    for (int g = 0; g < groups; ++g) {
      if (per_group[g] != n_drop / static_cast<size_t>(groups)) {
        return absl::FailedPreconditionError(absl::StrCat(
            "group-limited routing: layer ", layer, " drops ", per_group[g],
            " experts from group ", g, ", expected ", n_drop / groups));
      }
    }
  }
  return absl::OkStatus();
}

bool IsUpweightDtype(Dtype dtype) {
  return dtype == Dtype::kBF16 || dtype == Dtype::kF16 ||
         dtype == Dtype::kF32 || dtype == Dtype::kF64;
}

absl::Status SliceRows(PlannedTensor& out, const TensorInfo& in, int layer,
                       const std::vector<int>& keep, int experts) {
  if (in.shape.empty() || in.shape[0] != static_cast<uint64_t>(experts) ||
      in.size() % static_cast<uint64_t>(experts) != 0) {
    return Invalid("tensor \"", in.name,
                   absl::StrCat("\" (layer ", layer, "): dim 0 is ",
                                in.shape.empty() ? 0 : in.shape[0],
                                ", expected the expert count ", experts));
  }
  out.row_bytes = in.size() / static_cast<uint64_t>(experts);
  out.keep_rows = keep;
  out.shape[0] = keep.size();
  out.nbytes = out.row_bytes * keep.size();
  return absl::OkStatus();
}

// Builds the output tensor for one index entry; false in *keep_it when a
// per-expert tensor of a dropped expert is deleted.
absl::Status PlanTensor(const LayoutSpec& layout, const std::string& name,
                        const SafetensorsFile& file, const TensorInfo& in,
                        const PrunePlan& plan, PlannedTensor& out,
                        bool* keep_it) {
  *keep_it = true;
  out.out_name = name;
  out.file = &file;
  out.input = &in;
  out.shape = in.shape;
  out.nbytes = in.size();
  std::optional<RuleMatch> match = MatchTensor(layout, name);
  if (!match) return absl::OkStatus();
  const std::vector<int>& keep = plan.keep.at(match->layer);
  if (match->rule->role != TensorRole::kPerExpert) {
    return SliceRows(out, in, match->layer, keep, plan.original_experts);
  }
  auto it = std::lower_bound(keep.begin(), keep.end(), match->expert);
  if (match->expert >= plan.original_experts) {
    return Invalid("tensor \"", name,
                   absl::StrCat("\": expert ", match->expert,
                                " is outside 0..", plan.original_experts - 1));
  }
  if (it == keep.end() || *it != match->expert) {
    *keep_it = false;
    return absl::OkStatus();
  }
  out.out_name = RenumberExpert(name, *match, static_cast<int>(it - keep.begin()));
  return absl::OkStatus();
}

}  // namespace

const std::vector<int>* ExpertDropMap::Find(int layer) const {
  for (const auto& [l, ids] : layers) {
    if (l == layer) return &ids;
  }
  return nullptr;
}

absl::StatusOr<ExpertDropMap> ReadExpertDropMap(const std::string& path) {
  COHORT_ASSIGN_OR_RETURN(OrderedJson json, ReadOrderedJson(path));
  if (!json.is_object()) return Invalid(path, ": drop map is not a JSON object");
  ExpertDropMap map;
  for (const auto& [key, ids] : json.items()) {
    int layer = 0;
    if (!ParseLayerKey(key, &layer)) {
      return Invalid(path, ": key \"", key, "\" is not a layer number");
    }
    if (map.Find(layer) != nullptr) {
      return Invalid(path, absl::StrCat(": layer ", layer, " appears twice"));
    }
    if (!ids.is_array()) {
      return Invalid(path, ": layer \"", key, "\" is not a list of expert ids");
    }
    std::vector<int> list;
    for (const OrderedJson& id : ids) {
      if (!id.is_number_integer()) {
        return Invalid(path, ": layer \"", key,
                       "\" holds an expert id that is not an integer");
      }
      list.push_back(id.get<int>());
    }
    map.layers.emplace_back(layer, std::move(list));
  }
  return map;
}

const OrderedJson* LayoutScope(const OrderedJson& config,
                               const LayoutSpec& layout) {
  if (!config.is_object()) return nullptr;
  if (layout.scope.empty()) return &config;
  auto it = config.find(layout.scope);
  return it != config.end() && it->is_object() ? &*it : nullptr;
}

absl::StatusOr<OpenShards> OpenIndexShards(const std::string& dir,
                                           const ModelIndex& index) {
  OpenShards shards;
  for (const std::string& name : index.SortedShards()) {
    COHORT_ASSIGN_OR_RETURN(shards[name],
                            SafetensorsFile::Open(dir + "/" + name));
  }
  return shards;
}

namespace {

absl::Status ResolveKeep(const OrderedJson* scope, const LayoutSpec& layout,
                         const ExpertDropMap& drop_map, const std::set<int>& layers,
                         const std::string& drop_path, PrunePlan& plan) {
  for (const auto& [layer, ids] : drop_map.layers) {
    if (layers.count(layer) == 0) {
      return Invalid(drop_path, absl::StrCat(": layer ", layer,
                                             " has no MoE block in this "
                                             "checkpoint"));
    }
  }
  if (layers.empty()) return Invalid("checkpoint has no MoE layer for layout ", layout.name);
  const std::vector<int>* first = drop_map.Find(*layers.begin());
  if (first == nullptr) first = drop_map.layers.empty() ? nullptr : &drop_map.layers[0].second;
  size_t n_drop = first != nullptr ? first->size() : 0;
  for (int layer : layers) {
    const std::vector<int>* ids = drop_map.Find(layer);
    if (ids == nullptr) {
      return Invalid(drop_path, absl::StrCat(": no entry for MoE layer ", layer));
    }
    COHORT_RETURN_IF_ERROR(CheckDropList(layer, *ids, plan.original_experts,
                                         n_drop, drop_path));
    std::set<int> dropped(ids->begin(), ids->end());
    std::vector<int>& keep = plan.keep[layer];
    for (int e = 0; e < plan.original_experts; ++e) {
      if (dropped.count(e) == 0) keep.push_back(e);
    }
  }
  plan.target_experts = plan.original_experts - static_cast<int>(n_drop);
  if (plan.target_experts < 1) return Invalid(drop_path, ": every expert is dropped");
  for (const std::string& key : layout.top_k_keys) {
    if (scope->contains(key) && (*scope)[key].is_number_integer() &&
        (*scope)[key].get<int>() > plan.target_experts) {
      return Invalid(absl::StrCat("config.json: ", key, " = ",
                                  (*scope)[key].get<int>(), " exceeds the ",
                                  plan.target_experts, " experts kept"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<PrunePlan> PlanExpertDrop(const OrderedJson& config,
                                         const ModelIndex& index,
                                         const OpenShards& shards,
                                         const ExpertDropMap& drop_map,
                                         const PlanOptions& options) {
  const LayoutSpec& layout = *options.layout;
  const OrderedJson* scope = LayoutScope(config, layout);
  std::string where = layout.scope.empty() ? "" : layout.scope + ".";
  PrunePlan plan;
  plan.layout = &layout;
  COHORT_ASSIGN_OR_RETURN(plan.original_experts,
                          IntField(scope, layout.count_key, where));
  COHORT_ASSIGN_OR_RETURN(plan.num_layers,
                          IntField(scope, "num_hidden_layers", where));
  COHORT_ASSIGN_OR_RETURN(LayerScan scan, ScanLayers(layout, index));
  if (layout.every_layer_moe) {
    for (int l = 0; l < plan.num_layers; ++l) scan.moe_layers.insert(l);
  }
  COHORT_RETURN_IF_ERROR(ResolveKeep(scope, layout, drop_map, scan.moe_layers,
                                     "drop map", plan));
  if (layout.group_limited) {
    COHORT_RETURN_IF_ERROR(CheckGroups(
        scope, drop_map, plan.original_experts,
        static_cast<size_t>(plan.original_experts - plan.target_experts),
        options.even_group_drop));
  }
  uint64_t current = 0;
  for (const auto& [shard_name, file] : shards) {
    for (const auto& [name, shard] : index.weight_map) {
      if (shard != shard_name) continue;
      const TensorInfo* in = file->Find(name);
      if (in == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(
            index.path, ": tensor \"", name, "\" is mapped to ", shard_name,
            ", which does not contain it"));
      }
      PlannedTensor out;
      bool keep_it = true;
      COHORT_RETURN_IF_ERROR(
          PlanTensor(layout, name, *file, *in, plan, out, &keep_it));
      if (!keep_it) continue;
      if (!out.keep_rows.empty()) ++plan.sliced_tensors;
      if (!options.upweight_target.empty() &&
          absl::EndsWith(out.out_name, options.upweight_target)) {
        if (!IsUpweightDtype(in->dtype)) {
          return Invalid("upweight target \"", name, "\" has dtype ",
                         DtypeName(in->dtype));
        }
        out.upweight = true;
        ++plan.upweighted_tensors;
      }
      if (plan.shards.empty() ||
          (current + out.nbytes > options.max_shard_bytes &&
           !plan.shards.back().empty())) {
        plan.shards.emplace_back();
        current = 0;
      }
      current += out.nbytes;
      plan.total_size += out.nbytes;
      plan.shards.back().push_back(std::move(out));
    }
  }
  return plan;
}

}  // namespace cohort::worker::prune
