#include "worker/prune/inspect.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "worker/prune/expert_drop_plan.h"
#include "worker/prune/layout.h"

namespace cohort::worker::prune {
namespace {

struct LayerTally {
  std::set<uint64_t> dim0;            // router/stacked dim 0 values
  std::set<int> expert_ids;           // per-expert layouts
  bool shared = false;
  uint64_t bytes = 0;
};

int ScopeInt(const OrderedJson* scope, const std::vector<std::string>& keys) {
  if (scope == nullptr) return -1;
  for (const std::string& key : keys) {
    if (scope->contains(key) && (*scope)[key].is_number_integer()) {
      return (*scope)[key].get<int>();
    }
  }
  return -1;
}

void TallyTensor(const LayoutSpec& layout, const TensorInfo& t,
                 std::map<int, LayerTally>& layers) {
  std::optional<RuleMatch> match = MatchTensor(layout, t.name);
  if (match) {
    LayerTally& tally = layers[match->layer];
    tally.bytes += t.size();
    if (match->rule->role == TensorRole::kPerExpert) {
      tally.expert_ids.insert(match->expert);
    } else if (!t.shape.empty()) {
      tally.dim0.insert(t.shape[0]);
    }
    return;
  }
  if (IsSharedExpertTensor(layout, t.name)) {
    RuleMatch m;
    for (const std::string& prefix : layout.shared_prefixes) {
      if (MatchPattern(prefix + "*", t.name, &m)) break;
    }
    if (m.layer >= 0) layers[m.layer].shared = true;
  }
}

InspectLayer Summarize(int layer, const LayerTally& tally,
                       std::vector<std::string>& problems) {
  InspectLayer out;
  out.layer = layer;
  out.shared_expert = tally.shared;
  out.expert_bytes = tally.bytes;
  std::set<uint64_t> counts = tally.dim0;
  if (!tally.expert_ids.empty()) {
    counts.insert(tally.expert_ids.size());
    if (*tally.expert_ids.rbegin() + 1 != static_cast<int>(tally.expert_ids.size())) {
      problems.push_back(absl::StrCat("layer ", layer,
                                      ": per-expert ids are not dense 0..",
                                      tally.expert_ids.size() - 1));
    }
  }
  if (counts.size() > 1) {
    problems.push_back(absl::StrCat("layer ", layer,
                                    ": expert tensors disagree on the expert count"));
  }
  if (!counts.empty()) out.experts = static_cast<int>(*counts.begin());
  return out;
}

void CheckCounts(InspectReport& report) {
  std::set<int> counts;
  for (const InspectLayer& l : report.moe_layers) {
    counts.insert(l.experts);
    if (report.config_experts >= 0 && l.experts != report.config_experts) {
      report.problems.push_back(absl::StrCat(
          "layer ", l.layer, ": ", l.experts, " experts in the tensors, config says ",
          report.config_experts));
    }
  }
  if (report.top_k > 0 && report.config_experts >= 0 &&
      report.top_k > report.config_experts) {
    report.problems.push_back(absl::StrCat("top-k ", report.top_k,
                                           " exceeds the expert count ",
                                           report.config_experts));
  }
}

}  // namespace

absl::StatusOr<InspectReport> InspectCheckpoint(const std::string& dir,
                                                const std::string& layout_name) {
  InspectReport report;
  report.dir = dir;
  COHORT_ASSIGN_OR_RETURN(OrderedJson config, ReadOrderedJson(dir + "/config.json"));
  const LayoutSpec* layout = nullptr;
  if (layout_name.empty()) {
    COHORT_ASSIGN_OR_RETURN(layout, DetectLayout(config, dir + "/config.json"));
  } else {
    COHORT_ASSIGN_OR_RETURN(layout, FindLayout(layout_name));
  }
  report.layout = layout->name;
  const OrderedJson* scope = LayoutScope(config, *layout);
  report.num_layers = ScopeInt(scope, {"num_hidden_layers"});
  report.config_experts = ScopeInt(scope, {layout->count_key});
  report.top_k = ScopeInt(scope, layout->top_k_keys);
  COHORT_ASSIGN_OR_RETURN(ModelIndex index, ReadModelIndex(dir));
  COHORT_ASSIGN_OR_RETURN(OpenShards shards, OpenIndexShards(dir, index));
  report.shards = static_cast<int>(shards.size());
  std::map<std::string, std::string> mapped(index.weight_map.begin(),
                                            index.weight_map.end());
  std::map<int, LayerTally> layers;
  for (const auto& [shard, file] : shards) {
    for (const TensorInfo& t : file->header().tensors) {
      auto it = mapped.find(t.name);
      if (it == mapped.end() || it->second != shard) {
        report.problems.push_back(absl::StrCat(shard, ": tensor ", t.name,
                                               " is not mapped to this shard"));
        continue;
      }
      ++report.tensors;
      report.total_bytes += t.size();
      DtypeTotal& d = report.dtypes[std::string(DtypeName(t.dtype))];
      ++d.tensors;
      d.bytes += t.size();
      TallyTensor(*layout, t, layers);
    }
  }
  for (const auto& [name, shard] : index.weight_map) {
    if (shards.at(shard)->Find(name) == nullptr) {
      report.problems.push_back(absl::StrCat("index maps ", name, " to ", shard,
                                             ", which does not contain it"));
    }
  }
  if (index.metadata.contains("total_size") &&
      index.metadata["total_size"].is_number_unsigned() &&
      index.metadata["total_size"].get<uint64_t>() != report.total_bytes) {
    report.problems.push_back(absl::StrCat(
        "index total_size ", index.metadata["total_size"].get<uint64_t>(),
        " != tensor bytes ", report.total_bytes));
  }
  for (const auto& [layer, tally] : layers) {
    if (tally.dim0.empty() && tally.expert_ids.empty()) continue;
    report.moe_layers.push_back(Summarize(layer, tally, report.problems));
  }
  CheckCounts(report);
  return report;
}

std::string FormatInspectText(const InspectReport& r) {
  std::string out = absl::StrFormat(
      "%s\n  layout %s, %d layers (%d MoE), config experts %d, top-k %d\n"
      "  %d tensors in %d shards, %d bytes\n",
      r.dir, r.layout, r.num_layers, static_cast<int>(r.moe_layers.size()),
      r.config_experts, r.top_k, r.tensors, r.shards, r.total_bytes);
  for (const auto& [dtype, total] : r.dtypes) {
    absl::StrAppendFormat(&out, "  dtype %-8s %6d tensors %14d bytes\n", dtype,
                          total.tensors, total.bytes);
  }
  for (const InspectLayer& l : r.moe_layers) {
    absl::StrAppendFormat(&out, "  layer %3d: %4d experts%s, %d expert bytes\n",
                          l.layer, l.experts, l.shared_expert ? " + shared" : "",
                          l.expert_bytes);
  }
  for (const std::string& p : r.problems) absl::StrAppend(&out, "  PROBLEM: ", p, "\n");
  absl::StrAppend(&out, r.problems.empty() ? "  OK\n" : "  NOT OK\n");
  return out;
}

OrderedJson InspectJson(const InspectReport& r) {
  OrderedJson j = OrderedJson::object();
  j["dir"] = r.dir;
  j["layout"] = r.layout;
  j["num_layers"] = r.num_layers;
  j["config_experts"] = r.config_experts;
  j["top_k"] = r.top_k;
  j["shards"] = r.shards;
  j["tensors"] = r.tensors;
  j["total_bytes"] = r.total_bytes;
  OrderedJson dtypes = OrderedJson::object();
  for (const auto& [dtype, t] : r.dtypes) {
    dtypes[dtype] = {{"tensors", t.tensors}, {"bytes", t.bytes}};
  }
  j["dtypes"] = dtypes;
  OrderedJson layers = OrderedJson::array();
  for (const InspectLayer& l : r.moe_layers) {
    layers.push_back({{"layer", l.layer}, {"experts", l.experts},
                      {"shared_expert", l.shared_expert},
                      {"expert_bytes", l.expert_bytes}});
  }
  j["moe_layers"] = layers;
  j["problems"] = r.problems;
  return j;
}

}  // namespace cohort::worker::prune
