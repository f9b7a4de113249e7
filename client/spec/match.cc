#include "client/spec/match.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"

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

namespace {

absl::StatusOr<std::string> NameIn(const json& object, const char* what) {
  if (!object.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("the spec's ", what, " is not an object"));
  }
  auto name = object.find("name");
  if (name == object.end() || !name->is_string()) {
    return absl::InvalidArgumentError(absl::StrCat("the spec's ", what, " has no name"));
  }
  return name->get<std::string>();
}

// The text at `key` ("" when absent), or an error naming it.
absl::StatusOr<std::string> TextAt(const json& object, const char* key, const char* what) {
  auto it = object.find(key);
  if (it == object.end()) return std::string();
  if (!it->is_string()) {
    return absl::InvalidArgumentError(absl::StrCat("the spec's ", what, " ", key,
                                                   " is not text"));
  }
  return it->get<std::string>();
}

// The array at `key` (absent: none), or an error naming it.
absl::StatusOr<json> ListAt(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return json::array();
  if (!it->is_array()) {
    return absl::InvalidArgumentError(absl::StrCat("the spec's ", key, " is not a list"));
  }
  return *it;
}

}  // namespace

absl::StatusOr<SpecOutline> ReadSpecOutline(const std::string& spec_json) {
  COHORT_ASSIGN_OR_RETURN(json spec, ParseJson(spec_json, "the campaign's spec"));
  if (!spec.is_object()) return absl::InvalidArgumentError("the spec is not an object");
  SpecOutline out;
  COHORT_ASSIGN_OR_RETURN(json variants, ListAt(spec, "variants"));
  for (const json& v : variants) {
    COHORT_ASSIGN_OR_RETURN(out.variants.emplace_back(), NameIn(v, "variant"));
  }
  COHORT_ASSIGN_OR_RETURN(json references, ListAt(spec, "references"));
  for (const json& r : references) {
    Reference& ref = out.references.emplace_back();
    COHORT_ASSIGN_OR_RETURN(ref.name, NameIn(r, "reference"));
    COHORT_ASSIGN_OR_RETURN(ref.campaign, TextAt(r, "campaign", "reference's"));
    COHORT_ASSIGN_OR_RETURN(ref.model, TextAt(r, "model", "reference's"));
    const json gguf = r.value("gguf", json::object());
    if (gguf.is_object()) {
      COHORT_ASSIGN_OR_RETURN(ref.gguf.digest, TextAt(gguf, "digest", "reference's gguf"));
      COHORT_ASSIGN_OR_RETURN(ref.gguf.path, TextAt(gguf, "path", "reference's gguf"));
    }
  }
  const json eval = spec.value("eval", json::object());
  if (!eval.is_object()) return absl::InvalidArgumentError("the spec's eval is not an object");
  COHORT_ASSIGN_OR_RETURN(json suites, ListAt(eval, "suites"));
  for (const json& s : suites) {
    COHORT_ASSIGN_OR_RETURN(out.suites.emplace_back(), NameIn(s, "suite"));
  }
  const json gates = spec.value("gates", json::object());
  if (gates.is_object() && gates.contains("probe")) {
    COHORT_ASSIGN_OR_RETURN(out.probe_suite, NameIn(gates["probe"], "gate's probe"));
  }
  return out;
}

SpecOutline OutlineOf(const Spec& spec) {
  SpecOutline out;
  for (const Variant& v : spec.variants) out.variants.push_back(v.name);
  out.references = spec.references;
  for (const Suite& s : spec.eval.suites) out.suites.push_back(s.name);
  if (spec.gate) out.probe_suite = spec.gate->probe.name;
  return out;
}

}  // namespace cohort::client
