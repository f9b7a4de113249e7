#include "server/dashboard/views.h"

#include <algorithm>
#include <set>
#include <unordered_map>

#include "common/canonical_json.h"
#include "server/jobgraph/step.h"

namespace cohort::server::dashboard::internal {
namespace {

using nlohmann::json;
namespace report = client::report;

// A failure's log tail on the page: its end, where the error is.
constexpr size_t kMaxLogTail = 16 << 10;

std::string Tail(const std::string& text, size_t max) {
  return text.size() <= max ? text : "…" + text.substr(text.size() - max);
}

const char* CampaignStateName(CampaignState state) {
  switch (state) {
    case CampaignState::kRunning:
      return "running";
    case CampaignState::kSucceeded:
      return "succeeded";
    case CampaignState::kFailed:
      return "failed";
    case CampaignState::kCancelled:
      return "cancelled";
    default:
      return "unspecified";
  }
}

json Micros(std::optional<absl::Time> t) {
  if (!t) return nullptr;
  return absl::ToUnixMicros(*t);
}

int64_t Count(const CampaignTally& tally, StepState state) {
  auto it = tally.steps.find(state);
  return it == tally.steps.end() ? 0 : it->second;
}

using NodeIndex = std::unordered_map<std::string, const client::GraphNode*>;

// Every node a model's score and gate nodes reach, parents included.
std::vector<std::string> NodesOfModel(const NodeIndex& graph, const client::ModelNodes& model) {
  std::vector<std::string> stack;
  for (const auto& [suite, nodes] : model.scores) stack.insert(stack.end(), nodes.begin(), nodes.end());
  if (!model.gate.empty()) stack.push_back(model.gate);
  for (const auto& [artifact, node] : model.artifacts) stack.push_back(node);
  std::set<std::string> seen;
  std::vector<std::string> out;
  while (!stack.empty()) {
    std::string id = std::move(stack.back());
    stack.pop_back();
    if (!seen.insert(id).second) continue;
    out.push_back(id);
    auto node = graph.find(id);
    if (node == graph.end()) continue;
    for (const client::GraphInput& in : node->second->inputs) {
      if (!in.node_id.empty()) stack.push_back(in.node_id);
    }
  }
  return out;
}

json StepJson(const StepRecord& step, const std::string& model) {
  return {{"key", step.key},
          {"name", step.display_name},
          {"kind", StepKindName(step.kind)},
          {"state", StepStateName(step.state)},
          {"model", model},
          {"worker", step.worker_id},
          {"attempts", step.attempts},
          {"max_attempts", step.max_attempts},
          {"progress", ProgressJson(step.progress_json)}};
}

// What the workers page shows of a worker's registration (protobuf JSON of
// cohort.v1.WorkerInfo, camelCase, 64-bit numbers as strings): its machine,
// GPUs and tools, not the artifact list it holds.
json WorkerInfoJson(const std::string& info_json) {
  json info = ParseJsonOrDiscarded(info_json);
  json out = json::object();
  if (!info.is_object()) return out;
  for (const char* field : {"hostname", "version", "labels", "maxConcurrentSteps",
                            "memoryBytes", "freeDiskBytes"}) {
    auto it = info.find(field);
    if (it != info.end()) out[field] = *it;
  }
  json gpus = json::array(), tools = json::array();
  if (auto it = info.find("gpus"); it != info.end() && it->is_array()) {
    for (const json& g : *it) {
      if (g.is_object()) gpus.push_back({{"index", g.value("index", json(0))},
                                         {"model", g.value("model", json(""))},
                                         {"memoryBytes", g.value("memoryBytes", json("0"))}});
    }
  }
  if (auto it = info.find("tools"); it != info.end() && it->is_array()) {
    for (const json& t : *it) {
      if (t.is_object()) tools.push_back({{"name", t.value("name", json(""))},
                                          {"version", t.value("version", json(""))}});
    }
  }
  out["gpus"] = std::move(gpus);
  out["tools"] = std::move(tools);
  return out;
}

}  // namespace

const std::vector<std::string>& StageOrder() {
  static const std::vector<std::string> kStages = {
      "dropmap", "prune", "upweight", "convert", "imatrix",
      "quantmap", "quantize", "gate", "generate", "score"};
  return kStages;
}

CampaignNames NameCampaign(std::optional<client::CampaignLabels> labels) {
  if (!labels) return CampaignNames();
  const client::CampaignLabels& l = *labels;
  std::vector<StepLabel> score_labels;
  for (const auto& [key, model_suite] : l.score_steps) {
    score_labels.push_back({key, model_suite.first, model_suite.second});
  }
  CampaignNames names = NameFromStoredLabels(client::OutlineOf(l.spec), score_labels);
  // Graph::Find walks the nodes: 10^5 of them, once per node, took minutes.
  NodeIndex index;
  for (const client::GraphNode& node : l.graph.nodes) index.emplace(node.id, &node);
  for (const client::ModelNodes& m : l.graph.models) {
    for (const std::string& node : NodesOfModel(index, m)) {
      auto key = l.node_to_key.find(node);
      if (key != l.node_to_key.end()) names.model_of_step.emplace(key->second, m.name);
    }
  }
  return names;
}

CampaignNames NameFromStoredLabels(const client::SpecOutline& outline,
                                   const std::vector<StepLabel>& score_labels) {
  CampaignNames names;
  names.models = outline.variants;
  for (const client::Reference& r : outline.references) {
    names.models.push_back(r.name);
    names.references.push_back(r.name);
    if (!r.campaign.empty()) names.earlier_references.push_back(r);
  }
  names.suites = outline.suites;
  for (const StepLabel& label : score_labels) {
    if (label.model.empty() || label.suite.empty()) continue;
    names.score_steps[{label.model, label.suite}].push_back(label.key);
  }
  for (auto& [model_suite, keys] : names.score_steps) {
    std::sort(keys.begin(), keys.end());  // as NameCampaign lists them
    if (std::find(names.suites.begin(), names.suites.end(), model_suite.second) ==
        names.suites.end()) {
      names.suites.push_back(model_suite.second);  // the gate's probe suite
    }
  }
  return names;
}

std::vector<StepLabel> LabelsToStore(const CampaignNames& names) {
  std::map<std::string, std::string> suite_of_step;
  for (const auto& [model_suite, keys] : names.score_steps) {
    for (const std::string& key : keys) suite_of_step.emplace(key, model_suite.second);
  }
  std::vector<StepLabel> labels;
  labels.reserve(names.model_of_step.size());
  for (const auto& [key, model] : names.model_of_step) {
    auto suite = suite_of_step.find(key);
    labels.push_back({key, model, suite == suite_of_step.end() ? "" : suite->second});
  }
  return labels;
}

std::vector<std::pair<std::pair<std::string, std::string>, std::vector<std::string>>>
CampaignNames::ScoreStepsInOrder() const {
  std::vector<std::string> model_order = models;
  std::set<std::string> ordered(models.begin(), models.end());
  for (const auto& [model_suite, keys] : score_steps) {
    if (ordered.insert(model_suite.first).second) model_order.push_back(model_suite.first);
  }
  std::vector<std::pair<std::pair<std::string, std::string>, std::vector<std::string>>> out;
  for (const std::string& suite : suites) {
    for (const std::string& model : model_order) {
      auto it = score_steps.find({model, suite});
      if (it != score_steps.end()) out.emplace_back(it->first, it->second);
    }
  }
  return out;
}

json ProgressJson(const std::string& progress_json) {
  json p = ParseJsonOrDiscarded(progress_json);
  json out = {{"done", 0}, {"total", 0}, {"passed", 0}, {"unit", ""}, {"message", ""}};
  if (!p.is_object()) return out;
  for (const char* count : {"done", "total", "passed"}) {
    auto it = p.find(count);
    if (it != p.end() && it->is_number_unsigned()) out[count] = it->get<uint64_t>();
  }
  for (const char* text : {"unit", "message"}) {
    auto it = p.find(text);
    if (it != p.end() && it->is_string()) out[text] = *it;
  }
  auto gpus = p.find("gpus");
  if (gpus != p.end() && gpus->is_array()) {
    json list = json::array();
    for (const json& g : *gpus) {
      if (g.is_number_unsigned()) list.push_back(g.get<uint64_t>());
    }
    out["gpus"] = std::move(list);
  }
  return out;
}

json CampaignSummaryJson(const CampaignRecord& campaign, const CampaignTally& tally,
                         absl::Time now) {
  json steps = json::object();
  int64_t total = 0;
  for (const auto& [state, n] : tally.steps) {
    steps[std::string(StepStateName(state))] = n;
    total += n;
  }
  const int64_t done = Count(tally, StepState::kSucceeded) + Count(tally, StepState::kSkipped);
  const int64_t stuck = Count(tally, StepState::kFailed) + Count(tally, StepState::kBlocked) +
                        Count(tally, StepState::kCancelled);
  json eta = nullptr;
  // The pace so far: steps finished since the first one started, carried
  // over the steps left (a rough figure: chains run in parallel).
  if (campaign.state == CampaignState::kRunning && done > 0 && tally.first_started &&
      now > *tally.first_started) {
    double per_step = absl::ToDoubleSeconds(now - *tally.first_started) / static_cast<double>(done);
    eta = per_step * static_cast<double>(std::max<int64_t>(0, total - done - stuck));
  }
  return {{"id", campaign.id},
          {"name", campaign.name},
          {"state", CampaignStateName(campaign.state)},
          {"owner", campaign.owner},
          {"created_us", absl::ToUnixMicros(campaign.created)},
          {"finished_us", Micros(campaign.finished)},
          {"steps", std::move(steps)},
          {"total", total},
          {"done", done},
          {"workers", tally.workers},
          {"eta_seconds", eta}};
}

json CampaignDetailJson(const CampaignRecord& campaign, const CampaignTally& tally,
                        const std::vector<GridCell>& grid, const std::vector<StepRecord>& running,
                        const std::vector<StepRecord>& failures, const CampaignNames& names,
                        absl::Time now) {
  json out = CampaignSummaryJson(campaign, tally, now);
  // model -> stage -> state -> steps
  std::map<std::string, std::map<std::string, std::map<std::string, int64_t>>> by_model;
  int64_t running_total = 0, failure_total = 0;
  for (const GridCell& cell : grid) {
    by_model[cell.model][std::string(StepKindName(cell.kind))]
            [std::string(StepStateName(cell.state))] += cell.steps;
    if (cell.state == StepState::kLeased) running_total += cell.steps;
    if (cell.state == StepState::kFailed) failure_total += cell.steps;
  }
  std::vector<std::string> models = names.models;
  const std::set<std::string> named(models.begin(), models.end());
  for (const auto& [model, stages] : by_model) {
    if (named.count(model) == 0) models.push_back(model);
  }
  json rows = json::array();
  for (const std::string& model : models) {
    auto it = by_model.find(model);
    if (it == by_model.end()) continue;
    rows.push_back({{"model", model}, {"stages", it->second}});
  }
  std::vector<std::string> stages = StageOrder();
  for (const auto& [model, by_stage] : by_model) {
    for (const auto& [stage, states] : by_stage) {
      if (std::find(stages.begin(), stages.end(), stage) == stages.end()) stages.push_back(stage);
    }
  }
  json listed_running = json::array(), listed_failures = json::array();
  for (const StepRecord& step : running) listed_running.push_back(StepJson(step, step.model));
  // Blocked steps wait on a failure listed here; the grid counts them.
  for (const StepRecord& step : failures) {
    json f = StepJson(step, step.model);
    f["error"] = step.last_error;
    f["gate_reason"] = step.gate_reason;
    f["log_tail"] = Tail(step.log_tail, kMaxLogTail);
    listed_failures.push_back(std::move(f));
  }
  out["stages"] = stages;
  out["grid"] = std::move(rows);
  out["suites"] = names.suites;
  out["models"] = names.models;
  out["references"] = names.references;
  out["running"] = std::move(listed_running);
  out["running_total"] = running_total;
  out["failures"] = std::move(listed_failures);
  out["failure_total"] = failure_total;
  return out;
}

json WorkersJson(const std::vector<WorkerRecord>& workers, const std::vector<StepRecord>& leased,
                 absl::Time now, absl::Duration lease_duration, absl::Duration forget_after) {
  json list = json::array();
  for (const WorkerRecord& w : workers) {
    absl::Duration silent = now - w.last_heartbeat;
    if (silent > forget_after) continue;
    json info = WorkerInfoJson(w.info_json);
    json leases = json::array();
    for (const StepRecord& step : leased) {
      if (step.worker_id != w.id) continue;
      leases.push_back({{"key", step.key},
                        {"name", step.display_name},
                        {"kind", StepKindName(step.kind)},
                        {"progress", ProgressJson(step.progress_json)}});
    }
    list.push_back({{"id", w.id},
                    {"state", silent > lease_duration ? "lost" : "live"},
                    {"last_heartbeat_us", absl::ToUnixMicros(w.last_heartbeat)},
                    {"info", std::move(info)},
                    {"leases", std::move(leases)}});
  }
  return {{"workers", std::move(list)}};
}

json EventJson(const EventRecord& event) {
  static const char* const kTypes[] = {"unspecified",   "campaign_submitted", "campaign_finished",
                                       "step_state",    "step_progress",      "worker_joined",
                                       "worker_lost"};
  const size_t type = static_cast<size_t>(event.type);
  json out = {{"cursor", event.cursor},
              {"type", type < std::size(kTypes) ? kTypes[type] : "unspecified"},
              {"time_us", absl::ToUnixMicros(event.time)},
              {"campaign", event.campaign_id},
              {"step", event.step_key},
              {"state", StepStateName(event.step_state)},
              {"worker", event.worker_id}};
  if (event.type == EventType::kStepProgress) {
    out["progress"] = ProgressJson(event.message);
  } else {
    out["message"] = event.message;
  }
  return out;
}

report::Row RowOf(const ResultRow& row, uint64_t reasoning_chars, const std::string& model,
                  const std::string& suite) {
  report::Row out;
  out.model = model;
  out.suite = suite;
  out.problem_id = row.problem_id;
  out.sample = row.sample_index;
  out.verdict = row.verdict >= 0 && row.verdict <= 3 ? static_cast<report::Verdict>(row.verdict)
                                                     : report::Verdict::kFail;
  out.finish_reason = row.finish_reason;
  out.completion_tokens = row.completion_tokens;
  out.reasoning_tokens = row.reasoning_tokens;
  out.completion_chars = row.completion_chars;
  out.reasoning_chars = reasoning_chars;
  return out;
}

}  // namespace cohort::server::dashboard::internal
