#include "client/spec/match.h"

#include <algorithm>
#include <set>

#include "common/canonical_json.h"
#include "common/status_macros.h"

namespace cohort::client {
namespace {

using json = nlohmann::json;

absl::StatusOr<std::string> Signature(const std::string& kind, const json& params,
                                      std::vector<std::pair<std::string, std::string>> digests,
                                      std::vector<std::string> parents) {
  std::sort(digests.begin(), digests.end());
  std::sort(parents.begin(), parents.end());
  parents.erase(std::unique(parents.begin(), parents.end()), parents.end());
  json sig = {{"kind", kind}, {"params", params}, {"digests", digests},
              {"parents", parents}};
  return CanonicalJson(sig);
}

}  // namespace

absl::StatusOr<std::map<std::string, std::string>> MatchNodesToSteps(
    const Graph& graph, const std::vector<StepView>& steps) {
  std::map<std::string, std::string> by_signature;
  for (const StepView& s : steps) {
    absl::StatusOr<json> params = ParseJson(s.params_json.empty() ? "{}" : s.params_json,
                                            "step " + s.key + " params");
    if (!params.ok()) continue;
    COHORT_ASSIGN_OR_RETURN(std::string sig,
                            Signature(s.kind, *params, s.digest_inputs, s.depends_on));
    by_signature.emplace(sig, s.key);
  }
  std::map<std::string, std::string> out;
  for (const GraphNode& node : graph.nodes) {
    std::vector<std::pair<std::string, std::string>> digests;
    std::vector<std::string> parents;
    bool parents_known = true;
    for (const GraphInput& in : node.inputs) {
      if (!in.digest.empty()) {
        digests.emplace_back(in.name, in.digest);
        continue;
      }
      auto it = out.find(in.node_id);
      if (it == out.end()) {
        parents_known = false;
        break;
      }
      parents.push_back(it->second);
    }
    if (!parents_known) continue;
    COHORT_ASSIGN_OR_RETURN(std::string sig,
                            Signature(node.kind, node.params, digests, parents));
    auto it = by_signature.find(sig);
    if (it != by_signature.end()) out[node.id] = it->second;
  }
  return out;
}

std::optional<CampaignLabels> LabelCampaign(const std::string& spec_json,
                                            const std::vector<StepView>& steps) {
  absl::StatusOr<Spec> spec = ParseSpecText(spec_json, "the campaign's spec", "");
  if (!spec.ok()) return std::nullopt;
  absl::StatusOr<Graph> graph = ExpandSpec(*spec);
  if (!graph.ok()) return std::nullopt;
  CampaignLabels labels;
  labels.spec = std::move(*spec);
  labels.graph = std::move(*graph);
  // cohortd names the node each step was submitted as; structural matching
  // (params and inputs) is for the nodes that share their step with another.
  for (const StepView& s : steps) {
    if (!s.node_id.empty()) labels.node_to_key[s.node_id] = s.key;
  }
  auto unmatched = [&labels] {
    size_t n = 0;
    for (const GraphNode& node : labels.graph.nodes) n += labels.node_to_key.count(node.id) == 0;
    return n;
  };
  if (unmatched() > 0) {
    absl::StatusOr<std::map<std::string, std::string>> matched =
        MatchNodesToSteps(labels.graph, steps);
    if (matched.ok()) labels.node_to_key.insert(matched->begin(), matched->end());
  }
  labels.unmatched_nodes = unmatched();
  for (const ModelNodes& m : labels.graph.models) {
    for (const auto& [suite, nodes] : m.scores) {
      for (const std::string& node : nodes) {
        auto it = labels.node_to_key.find(node);
        if (it != labels.node_to_key.end()) {
          labels.score_steps.emplace(it->second, std::make_pair(m.name, suite));
        }
      }
    }
  }
  return labels;
}

}  // namespace cohort::client
