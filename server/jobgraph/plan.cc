#include "server/jobgraph/plan.h"

#include <algorithm>
#include <functional>
#include <queue>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/canonical_json.h"
#include "common/safe_path.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "server/jobgraph/params_schema.h"

namespace cohort::server {
namespace {

using json = nlohmann::json;

absl::Status NodeError(const NodeSpec& node, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("campaign node '", node.node_id, "': ", what));
}

// Node ids to positions, viewing the nodes' own strings.
using NodeIndex = absl::flat_hash_map<absl::string_view, size_t>;

absl::Status ValidateInputs(const NodeSpec& node, const NodeIndex& index) {
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    const NodeInput& in = node.inputs[i];
    // Input and output names become file and folder names on workers.
    if (absl::Status s = CheckPlainName(in.name, "input name"); !s.ok()) {
      return NodeError(node, s.message());
    }
    // A node has a handful of inputs: a scan beats building a set.
    for (size_t j = 0; j < i; ++j) {
      if (node.inputs[j].name == in.name) {
        return NodeError(node, absl::StrCat("input '", in.name, "' given twice"));
      }
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

// The distinct producing nodes of `node`'s inputs, ascending.
std::vector<size_t> ParentNodes(const NodeSpec& node, const NodeIndex& index) {
  std::vector<size_t> parents;
  for (const NodeInput& in : node.inputs) {
    if (!in.node_id.empty()) parents.push_back(index.at(in.node_id));
  }
  std::sort(parents.begin(), parents.end());
  parents.erase(std::unique(parents.begin(), parents.end()), parents.end());
  return parents;
}

// Kahn's algorithm; ties broken by submission order so plans are stable.
absl::StatusOr<std::vector<size_t>> TopologicalOrder(
    const std::vector<NodeSpec>& nodes, const NodeIndex& index) {
  std::vector<std::vector<size_t>> children(nodes.size());
  std::vector<size_t> pending(nodes.size(), 0);
  for (size_t i = 0; i < nodes.size(); ++i) {
    std::vector<size_t> parents = ParentNodes(nodes[i], index);
    pending[i] = parents.size();
    for (size_t p : parents) children[p].push_back(i);
  }
  // A min-heap of ready positions: the earliest submitted ready node next.
  std::priority_queue<size_t, std::vector<size_t>, std::greater<size_t>> ready;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (pending[i] == 0) ready.push(i);
  }
  std::vector<size_t> order;
  order.reserve(nodes.size());
  while (!ready.empty()) {
    size_t next = ready.top();
    ready.pop();
    order.push_back(next);
    for (size_t c : children[next]) {
      if (--pending[c] == 0) ready.push(c);
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
absl::StatusOr<std::string> StepKeyOfCanonical(
    StepKind kind, const std::string& impl_version,
    const std::string& canonical_params, const std::vector<StepInput>& inputs) {
  // "inputs": {name: {"digest": d} or {"output": o, "step": k}}, names sorted.
  std::vector<const StepInput*> sorted;
  for (const StepInput& in : inputs) sorted.push_back(&in);
  std::stable_sort(sorted.begin(), sorted.end(), [](const StepInput* a, const StepInput* b) {
    return a->name < b->name;
  });
  std::string doc = "{\"impl\":";
  COHORT_RETURN_IF_ERROR(AppendJsonString(impl_version, &doc));
  doc += ",\"inputs\":{";
  bool first = true;
  for (size_t i = 0; i < sorted.size(); ++i) {
    const StepInput& in = *sorted[i];
    // A name given twice keeps its last value, as a JSON object would.
    if (i + 1 < sorted.size() && sorted[i + 1]->name == in.name) continue;
    if (!first) doc += ',';
    first = false;
    COHORT_RETURN_IF_ERROR(AppendJsonString(in.name, &doc));
    if (in.artifact_digest.empty()) {
      doc += ":{\"output\":";
      COHORT_RETURN_IF_ERROR(AppendJsonString(in.source_output, &doc));
      doc += ",\"step\":";
      COHORT_RETURN_IF_ERROR(AppendJsonString(in.source_step_key, &doc));
    } else {
      doc += ":{\"digest\":";
      COHORT_RETURN_IF_ERROR(AppendJsonString(in.artifact_digest, &doc));
    }
    doc += '}';
  }
  doc += "},\"kind\":";
  COHORT_RETURN_IF_ERROR(AppendJsonString(StepKindName(kind), &doc));
  absl::StrAppend(&doc, ",\"params\":", canonical_params, "}");
  return absl::StrCat("sha256:", Sha256Hex(doc));
}

// The canonical form of a node's params. Steps of a sweep often share
// their params text ("{}" above all): each distinct text is parsed once.
class CanonicalParams {
 public:
  absl::StatusOr<std::string> Of(const NodeSpec& node) {
    // The same text may be right for one kind and wrong for another.
    std::string key = absl::StrCat(static_cast<int>(node.kind), ":", node.params_json);
    auto found = done_.find(key);
    if (found != done_.end()) return found->second;
    absl::StatusOr<json> params = ParseJson(node.params_json, "params");
    if (!params.ok()) return NodeError(node, params.status().message());
    if (!params->is_object()) return NodeError(node, "params must be a JSON object");
    if (absl::Status s = CheckParamTypes(node.kind, *params); !s.ok()) {
      return NodeError(node, s.message());
    }
    absl::StatusOr<std::string> canonical = CanonicalJson(*params);
    if (!canonical.ok()) return NodeError(node, canonical.status().message());
    // Distinct texts are kept only while few: a sweep whose every step has
    // its own params would fill the map for nothing.
    if (done_.size() < kMaxKept) done_.emplace(std::move(key), *canonical);
    return canonical;
  }

 private:
  static constexpr size_t kMaxKept = 1024;
  absl::flat_hash_map<std::string, std::string> done_;
};

// `keys[i]` is the key of node i once planned.
absl::StatusOr<PlannedStep> PlanNode(const NodeSpec& node, const NodeIndex& index,
                                     const std::vector<std::string>& keys,
                                     CanonicalParams& canonical_params,
                                     uint32_t default_max_attempts) {
  PlannedStep step;
  step.node_id = node.node_id;
  step.model = node.model;
  step.suite = node.suite;
  step.kind = node.kind;
  step.impl_version = node.impl_version;
  step.requirements = node.requirements;
  step.display_name = node.display_name.empty() ? node.node_id : node.display_name;
  step.max_attempts = node.max_attempts ? node.max_attempts : default_max_attempts;
  COHORT_ASSIGN_OR_RETURN(step.params_json, canonical_params.Of(node));
  step.inputs.reserve(node.inputs.size());
  for (const NodeInput& in : node.inputs) {
    StepInput input{in.name, in.artifact_digest, "", ""};
    if (!in.node_id.empty()) {
      input.source_step_key = keys[index.at(in.node_id)];
      input.source_output = in.output;
      step.parent_keys.push_back(input.source_step_key);
    }
    step.inputs.push_back(std::move(input));
  }
  std::sort(step.inputs.begin(), step.inputs.end(),
            [](const StepInput& a, const StepInput& b) { return a.name < b.name; });
  std::sort(step.parent_keys.begin(), step.parent_keys.end());
  step.parent_keys.erase(std::unique(step.parent_keys.begin(), step.parent_keys.end()),
                         step.parent_keys.end());
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

struct CampaignPlanner::State {
  State(const std::vector<NodeSpec>& n, uint32_t attempts)
      : nodes(n), keys(n.size()), default_max_attempts(attempts) {}
  const std::vector<NodeSpec>& nodes;
  NodeIndex index;
  std::vector<size_t> order;
  std::vector<std::string> keys;  // node position -> key, once planned
  CanonicalParams canonical_params;
  size_t next = 0;  // position in `order`
  const uint32_t default_max_attempts;
};

CampaignPlanner::CampaignPlanner(std::unique_ptr<State> state)
    : state_(std::move(state)) {}

CampaignPlanner::~CampaignPlanner() = default;

absl::StatusOr<std::unique_ptr<CampaignPlanner>> CampaignPlanner::Create(
    const std::vector<NodeSpec>& nodes, uint32_t default_max_attempts) {
  auto state = std::make_unique<State>(nodes, default_max_attempts);
  state->index.reserve(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].node_id.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("campaign node #", i, " has no node id"));
    }
    if (!state->index.emplace(nodes[i].node_id, i).second) {
      return NodeError(nodes[i], "node id used twice");
    }
    if (nodes[i].kind == StepKind::kUnspecified ||
        StepKindName(nodes[i].kind) == "unspecified") {
      return NodeError(nodes[i], "unknown step kind");
    }
  }
  for (const NodeSpec& node : nodes) {
    COHORT_RETURN_IF_ERROR(ValidateInputs(node, state->index));
  }
  COHORT_ASSIGN_OR_RETURN(state->order, TopologicalOrder(nodes, state->index));
  return std::unique_ptr<CampaignPlanner>(new CampaignPlanner(std::move(state)));
}

size_t CampaignPlanner::size() const { return state_->order.size(); }

absl::StatusOr<PlannedStep> CampaignPlanner::Next() {
  State& s = *state_;
  if (s.next >= s.order.size()) {
    return absl::OutOfRangeError("every step of the campaign is planned");
  }
  size_t i = s.order[s.next];
  COHORT_ASSIGN_OR_RETURN(PlannedStep step,
                          PlanNode(s.nodes[i], s.index, s.keys, s.canonical_params,
                                   s.default_max_attempts));
  s.keys[i] = step.key;
  step.ordinal = static_cast<uint32_t>(s.next++);
  return step;
}

absl::StatusOr<std::vector<PlannedStep>> CampaignPlanner::PlanRest() {
  std::vector<PlannedStep> planned;
  planned.reserve(size() - state_->next);
  while (state_->next < size()) {
    COHORT_ASSIGN_OR_RETURN(PlannedStep step, Next());
    planned.push_back(std::move(step));
  }
  return planned;
}

absl::StatusOr<std::vector<PlannedStep>> PlanCampaign(
    const std::vector<NodeSpec>& nodes, uint32_t default_max_attempts) {
  COHORT_ASSIGN_OR_RETURN(std::unique_ptr<CampaignPlanner> planner,
                          CampaignPlanner::Create(nodes, default_max_attempts));
  return planner->PlanRest();
}

BackgroundPlanner::BackgroundPlanner(std::unique_ptr<CampaignPlanner> planner)
    : planner_(std::move(planner)),
      steps_(planner_->size()),
      thread_([this] { Run(); }) {}

BackgroundPlanner::~BackgroundPlanner() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

void BackgroundPlanner::Run() {
  // Published in batches: a lock round per step would cost more than the
  // consumer gains from seeing each step at once.
  constexpr size_t kPublishEvery = 256;
  const size_t total = steps_.size();  // steps_ may be moved out at the end
  for (size_t done = 0; done < total;) {
    size_t end = std::min(done + kPublishEvery, total);
    absl::Status status;
    for (size_t i = done; i < end && status.ok(); ++i) {
      absl::StatusOr<PlannedStep> step = planner_->Next();
      if (step.ok()) {
        steps_[i] = *std::move(step);
      } else {
        status = step.status();
      }
    }
    absl::MutexLock lock(&mu_);
    if (!status.ok()) {
      error_ = status;
      return;
    }
    planned_ = done = end;
    if (stop_) return;
  }
}

absl::StatusOr<size_t> BackgroundPlanner::WaitFor(size_t n) {
  n = std::min(n, steps_.size());
  absl::MutexLock lock(&mu_);
  auto ready = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return planned_ >= n || !error_.ok();
  };
  mu_.Await(absl::Condition(&ready));
  if (!error_.ok()) return error_;
  return planned_;
}

}  // namespace cohort::server
