#include "server/jobgraph/plan.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/canonical_json.h"
#include "common/safe_path.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace cohort::server {
namespace {

using json = nlohmann::json;

absl::Status NodeError(const NodeSpec& node, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("campaign node '", node.node_id, "': ", what));
}

absl::Status ValidateInputs(const NodeSpec& node,
                            const std::map<std::string, size_t>& index) {
  std::set<std::string> names;
  for (const NodeInput& in : node.inputs) {
    // Input and output names become file and folder names on workers.
    if (absl::Status s = CheckPlainName(in.name, "input name"); !s.ok()) {
      return NodeError(node, s.message());
    }
    if (!names.insert(in.name).second) {
      return NodeError(node, absl::StrCat("input '", in.name, "' given twice"));
    }
    bool by_digest = !in.artifact_digest.empty();
    bool by_node = !in.node_id.empty();
    if (by_digest == by_node) {
      return NodeError(node, absl::StrCat("input '", in.name,
                                          "' needs exactly one of an artifact "
                                          "digest or a node output"));
    }
    if (by_digest && !IsValidDigest(in.artifact_digest)) {
      return NodeError(node, absl::StrCat("input '", in.name, "': '",
                                          in.artifact_digest,
                                          "' is not a sha256:<64 hex> digest"));
    }
    if (by_node && index.count(in.node_id) == 0) {
      return NodeError(node, absl::StrCat("input '", in.name,
                                          "' names unknown node '", in.node_id,
                                          "'"));
    }
    if (by_node && in.output.empty()) {
      return NodeError(node, absl::StrCat("input '", in.name,
                                          "' names no output of node '",
                                          in.node_id, "'"));
    }
    if (by_node) {
      if (absl::Status s = CheckPlainName(in.output, "output name"); !s.ok()) {
        return NodeError(node, absl::StrCat("input '", in.name, "': ", s.message()));
      }
    }
  }
  return absl::OkStatus();
}

// Kahn's algorithm; ties broken by submission order so plans are stable.
absl::StatusOr<std::vector<size_t>> TopologicalOrder(
    const std::vector<NodeSpec>& nodes,
    const std::map<std::string, size_t>& index) {
  std::vector<std::vector<size_t>> children(nodes.size());
  std::vector<size_t> pending(nodes.size(), 0);
  for (size_t i = 0; i < nodes.size(); ++i) {
    std::set<size_t> parents;
    for (const NodeInput& in : nodes[i].inputs) {
      if (!in.node_id.empty()) parents.insert(index.at(in.node_id));
    }
    pending[i] = parents.size();
    for (size_t p : parents) children[p].push_back(i);
  }
  std::set<size_t> ready;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (pending[i] == 0) ready.insert(i);
  }
  std::vector<size_t> order;
  while (!ready.empty()) {
    size_t next = *ready.begin();
    ready.erase(ready.begin());
    order.push_back(next);
    for (size_t c : children[next]) {
      if (--pending[c] == 0) ready.insert(c);
    }
  }
  if (order.size() != nodes.size()) {
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (pending[i] != 0) return NodeError(nodes[i], "is part of a cycle");
    }
  }
  return order;
}

// The key is the sha256 of the canonical JSON of {"impl", "inputs", "kind",
// "params"}. A canonical object is its members in key order, each canonical,
// so the document is assembled around the already canonical params instead
// of parsing and re-serializing them (a 10^5-step plan spent most of its time
// there).
// A JSON string in canonical form. Names and digests are nearly always
// printable ASCII with nothing to escape; anything else takes the general
// path.
absl::StatusOr<std::string> CanonicalString(const std::string& text) {
  bool plain = std::all_of(text.begin(), text.end(), [](char c) {
    return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
  });
  if (plain) return absl::StrCat("\"", text, "\"");
  return CanonicalJson(json(text));
}

absl::StatusOr<std::string> StepKeyOfCanonical(
    StepKind kind, const std::string& impl_version,
    const std::string& canonical_params, const std::vector<StepInput>& inputs) {
  // "inputs": {name: {"digest": d} or {"output": o, "step": k}}, names sorted.
  std::vector<const StepInput*> sorted;
  for (const StepInput& in : inputs) sorted.push_back(&in);
  std::stable_sort(sorted.begin(), sorted.end(), [](const StepInput* a, const StepInput* b) {
    return a->name < b->name;
  });
  std::string refs = "{";
  for (size_t i = 0; i < sorted.size(); ++i) {
    const StepInput& in = *sorted[i];
    // A name given twice keeps its last value, as a JSON object would.
    if (i + 1 < sorted.size() && sorted[i + 1]->name == in.name) continue;
    COHORT_ASSIGN_OR_RETURN(std::string name, CanonicalString(in.name));
    absl::StrAppend(&refs, refs.size() > 1 ? "," : "", name, ":");
    if (in.artifact_digest.empty()) {
      COHORT_ASSIGN_OR_RETURN(std::string output, CanonicalString(in.source_output));
      COHORT_ASSIGN_OR_RETURN(std::string step, CanonicalString(in.source_step_key));
      absl::StrAppend(&refs, "{\"output\":", output, ",\"step\":", step, "}");
    } else {
      COHORT_ASSIGN_OR_RETURN(std::string digest, CanonicalString(in.artifact_digest));
      absl::StrAppend(&refs, "{\"digest\":", digest, "}");
    }
  }
  refs += "}";
  COHORT_ASSIGN_OR_RETURN(std::string impl, CanonicalString(impl_version));
  COHORT_ASSIGN_OR_RETURN(std::string kind_text,
                          CanonicalString(std::string(StepKindName(kind))));
  std::string doc = absl::StrCat("{\"impl\":", impl, ",\"inputs\":", refs,
                                 ",\"kind\":", kind_text,
                                 ",\"params\":", canonical_params, "}");
  return absl::StrCat("sha256:", Sha256Hex(doc));
}

absl::StatusOr<PlannedStep> PlanNode(
    const NodeSpec& node, const std::map<std::string, std::string>& keys,
    uint32_t default_max_attempts) {
  PlannedStep step;
  step.node_id = node.node_id;
  step.kind = node.kind;
  step.impl_version = node.impl_version;
  step.requirements = node.requirements;
  step.display_name = node.display_name.empty() ? node.node_id : node.display_name;
  step.max_attempts = node.max_attempts ? node.max_attempts : default_max_attempts;
  absl::StatusOr<json> params = ParseJson(node.params_json, "params");
  if (!params.ok() || !params->is_object()) {
    return NodeError(node, "params must be a JSON object");
  }
  absl::StatusOr<std::string> canonical = CanonicalJson(*params);
  if (!canonical.ok()) return NodeError(node, canonical.status().message());
  step.params_json = *canonical;
  std::set<std::string> parents;
  for (const NodeInput& in : node.inputs) {
    StepInput input{in.name, in.artifact_digest, "", ""};
    if (!in.node_id.empty()) {
      input.source_step_key = keys.at(in.node_id);
      input.source_output = in.output;
      parents.insert(input.source_step_key);
    }
    step.inputs.push_back(std::move(input));
  }
  std::sort(step.inputs.begin(), step.inputs.end(),
            [](const StepInput& a, const StepInput& b) { return a.name < b.name; });
  step.parent_keys.assign(parents.begin(), parents.end());
  COHORT_ASSIGN_OR_RETURN(step.key,
                          StepKeyOfCanonical(step.kind, step.impl_version,
                                             step.params_json, step.inputs));
  return step;
}

}  // namespace

bool IsValidDigest(const std::string& digest) {
  if (!absl::StartsWith(digest, "sha256:") || digest.size() != 7 + 64) {
    return false;
  }
  return std::all_of(digest.begin() + 7, digest.end(), [](char c) {
    return absl::ascii_isdigit(c) || (c >= 'a' && c <= 'f');
  });
}

absl::StatusOr<std::string> ComputeStepKey(StepKind kind,
                                           const std::string& impl_version,
                                           const std::string& params_json,
                                           const std::vector<StepInput>& inputs) {
  COHORT_ASSIGN_OR_RETURN(json params, ParseJson(params_json, "params"));
  COHORT_ASSIGN_OR_RETURN(std::string canonical, CanonicalJson(params));
  return StepKeyOfCanonical(kind, impl_version, canonical, inputs);
}

absl::StatusOr<std::vector<PlannedStep>> PlanCampaign(
    const std::vector<NodeSpec>& nodes, uint32_t default_max_attempts) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].node_id.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("campaign node #", i, " has no node id"));
    }
    if (!index.emplace(nodes[i].node_id, i).second) {
      return NodeError(nodes[i], "node id used twice");
    }
    if (nodes[i].kind == StepKind::kUnspecified ||
        StepKindName(nodes[i].kind) == "unspecified") {
      return NodeError(nodes[i], "unknown step kind");
    }
  }
  for (const NodeSpec& node : nodes) {
    COHORT_RETURN_IF_ERROR(ValidateInputs(node, index));
  }
  COHORT_ASSIGN_OR_RETURN(std::vector<size_t> order, TopologicalOrder(nodes, index));
  std::map<std::string, std::string> keys;  // node id -> step key
  std::vector<PlannedStep> planned;
  planned.reserve(nodes.size());
  for (size_t i : order) {
    COHORT_ASSIGN_OR_RETURN(PlannedStep step,
                            PlanNode(nodes[i], keys, default_max_attempts));
    keys[step.node_id] = step.key;
    step.ordinal = static_cast<uint32_t>(planned.size());
    planned.push_back(std::move(step));
  }
  return planned;
}

}  // namespace cohort::server
