#include "client/spec/expand.h"

#include <algorithm>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/canonical_json.h"
#include "common/endpoint_url.h"
#include "common/status_macros.h"
#include "common/vllm_options.h"

namespace cohort::client {
namespace {

using json = nlohmann::json;

// Tools the scorer of a code bench runs (docs/steps.md requirements).
std::vector<std::string> ScoreTools(const std::string& bench) {
  if (absl::StrContains(bench, "rs") || absl::StrContains(bench, "rust")) return {"rustc"};
  if (absl::StrContains(bench, "java")) return {"java"};
  if (absl::StrContains(bench, "js") || absl::StrContains(bench, "javascript")) {
    return {"node"};
  }
  if (absl::StrContains(bench, "humaneval") || absl::StrContains(bench, "lcb") ||
      absl::StrContains(bench, "livecodebench") || absl::StrContains(bench, "mbpp")) {
    return {"python3"};
  }
  return {};
}

// What makes two nodes one: kind, params and inputs, unambiguous (each part
// is canonical JSON or NUL-free text). Inputs come first: the params of a
// generate or score node carry the whole profile, equal across variants, and
// comparing them first made the lookup compare kilobytes per probe.
absl::StatusOr<std::string> Signature(const GraphNode& node) {
  std::vector<GraphInput> sorted = node.inputs;
  std::sort(sorted.begin(), sorted.end(),
            [](const GraphInput& a, const GraphInput& b) { return a.name < b.name; });
  json inputs = json::array();
  for (const GraphInput& in : sorted) {
    inputs.push_back({in.name, in.digest, in.node_id, in.output});
  }
  COHORT_ASSIGN_OR_RETURN(std::string signature, CanonicalJson(inputs));
  COHORT_ASSIGN_OR_RETURN(std::string params, CanonicalJson(node.params));
  absl::StrAppend(&signature, absl::string_view("\0", 1), node.kind,
                  absl::string_view("\0", 1), params);
  return signature;
}

class Builder {
 public:
  explicit Builder(const Spec& spec) : spec_(spec) {}

  // Adds a node, or returns the id of an identical one already added.
  absl::StatusOr<std::string> Add(GraphNode node) {
    COHORT_ASSIGN_OR_RETURN(std::string signature, Signature(node));
    auto it = by_signature_.find(signature);
    if (it != by_signature_.end()) return it->second;
    std::string id = node.id;
    for (int n = 2; ids_.count(id) > 0; ++n) id = absl::StrCat(node.id, "#", n);
    node.id = id;
    ids_.insert(id);
    by_signature_.emplace(std::move(signature), id);
    graph_.nodes.push_back(std::move(node));
    return id;
  }

  absl::Status AddVariant(const Variant& v);
  absl::Status AddReference(const Reference& r);
  Graph Take() { return std::move(graph_); }

 private:
  absl::StatusOr<std::string> AddChain(const Variant& v, ModelNodes* model);
  absl::StatusOr<std::string> AddQuantMap(const Variant& v, const std::string& drop_map,
                                          const std::string& gguf);
  // Generates from `gguf_node`'s output, the GGUF `gguf_digest`, or (with
  // `server`) a running OpenAI-compatible server.
  absl::StatusOr<std::vector<std::string>> AddSuite(const std::string& model,
                                                    const std::string& gguf_node,
                                                    const std::string& gguf_digest,
                                                    const Suite& suite,
                                                    const std::string& gate,
                                                    const ServerRef* server = nullptr,
                                                    const VllmRef* vllm = nullptr);
  GraphNode Make(const std::string& kind, const std::string& model,
                 const std::string& suffix = "") {
    GraphNode n;
    n.kind = kind;
    n.model = model;
    n.id = absl::StrCat(kind, ":", model, suffix.empty() ? "" : ":", suffix);
    n.display_name = absl::StrCat(kind, " ", model, suffix.empty() ? "" : " ", suffix);
    return n;
  }

  // The profile a suite's nodes carry: the spec's, with only the suite's
  // bench and its limit. Made once per suite, not once per model: a copy of
  // the whole profile per node was most of expanding a 10^5-node sweep.
  const json& SuiteProfile(const Suite& suite) {
    auto [it, added] = suite_profiles_.try_emplace({suite.bench, suite.limit});
    if (!added) return it->second;
    json settings = spec_.eval.profile["benches"][suite.bench];
    if (suite.limit >= 0) settings["limit"] = suite.limit;
    it->second = spec_.eval.profile;
    it->second["benches"] = json{{suite.bench, settings}};
    return it->second;
  }

  const Spec& spec_;
  std::map<std::pair<std::string, int>, json> suite_profiles_;  // by bench and limit
  Graph graph_;
  absl::flat_hash_map<std::string, std::string> by_signature_;
  std::set<std::string> ids_;
};

GraphInput Digest(const std::string& name, const std::string& digest) {
  return GraphInput{name, digest, "", ""};
}
GraphInput From(const std::string& name, const std::string& node,
                const std::string& output) {
  return GraphInput{name, "", node, output};
}

absl::StatusOr<std::string> Builder::AddChain(const Variant& v, ModelNodes* model) {
  const json& r = v.recipe;
  GraphNode dm = Make("dropmap", v.name);
  dm.params = {{"flags", r["dropmap"]}};
  dm.inputs.push_back(Digest("contrib", spec_.contrib.digest));
  if (!spec_.v4_data.empty()) dm.inputs.push_back(Digest("v4_data", spec_.v4_data.digest));
  if (!spec_.floor_map.empty()) dm.inputs.push_back(Digest("floor_map", spec_.floor_map.digest));
  if (!spec_.baseline_drop_map.empty()) {
    dm.inputs.push_back(Digest("baseline_drop_map", spec_.baseline_drop_map.digest));
  }
  COHORT_ASSIGN_OR_RETURN(std::string dm_id, Add(std::move(dm)));
  model->artifacts["drop_map"] = dm_id;

  double alpha = r["upweight"]["alpha"].get<double>();
  bool upweight = alpha != 1.0;
  bool fused = upweight && r["prune"]["fuse_upweight"].get<bool>();
  json upweight_params = {{"alpha", alpha}, {"target", r["upweight"]["target"]}};
  GraphNode pr = Make("prune", v.name);
  pr.params = {{"layout", r["prune"]["layout"]}, {"suffix", r["prune"]["suffix"]},
               {"even_group_drop", r["prune"]["even_group_drop"]}};
  if (fused) pr.params["upweight"] = upweight_params;
  pr.inputs = {Digest("checkpoint", spec_.base_model.digest),
               From("drop_map", dm_id, "drop_map")};
  COHORT_ASSIGN_OR_RETURN(std::string ckpt, Add(std::move(pr)));
  if (upweight && !fused) {
    GraphNode up = Make("upweight", v.name);
    up.params = upweight_params;
    up.inputs = {From("checkpoint", ckpt, "checkpoint")};
    COHORT_ASSIGN_OR_RETURN(ckpt, Add(std::move(up)));
  }
  model->artifacts["pruned"] = ckpt;

  GraphNode cv = Make("convert", v.name);
  cv.params = {{"outtype", r["convert"]["outtype"]}, {"llama_cpp", spec_.llama_cpp}};
  cv.inputs = {From("checkpoint", ckpt, "checkpoint")};
  cv.tools = {"convert_hf_to_gguf.py"};
  COHORT_ASSIGN_OR_RETURN(std::string gguf, Add(std::move(cv)));
  model->artifacts["gguf"] = gguf;

  std::string type = r["quantize"]["type"].get<std::string>();
  if (type == "none") return gguf;
  std::string imatrix;
  if (r["imatrix"]["enabled"].get<bool>()) {
    GraphNode im = Make("imatrix", v.name);
    im.params = {{"chunks", r["imatrix"]["chunks"]}, {"llama_cpp", spec_.llama_cpp}};
    im.inputs = {From("gguf", gguf, "gguf"), Digest("calibration", spec_.calibration.digest)};
    im.gpus = 1;
    im.tools = {"llama-imatrix"};
    COHORT_ASSIGN_OR_RETURN(imatrix, Add(std::move(im)));
  }
  COHORT_ASSIGN_OR_RETURN(std::string quant_map, AddQuantMap(v, dm_id, gguf));
  GraphNode q = Make("quantize", v.name);
  q.params = {{"type", type}, {"llama_cpp", spec_.llama_cpp}};
  // Only when set: a quantize without a map keeps the key it always had.
  const json tensor_types = r["quantize"].value("tensor_types", json::array());
  if (!tensor_types.empty()) q.params["tensor_types"] = tensor_types;
  q.inputs = {From("gguf", gguf, "gguf")};
  if (!imatrix.empty()) q.inputs.push_back(From("imatrix", imatrix, "imatrix"));
  if (!quant_map.empty()) q.inputs.push_back(From("tensor_types", quant_map, "tensor_types"));
  q.tools = {"llama-quantize"};
  COHORT_ASSIGN_OR_RETURN(std::string quantized, Add(std::move(q)));
  model->artifacts["quantized"] = quantized;
  return quantized;
}

// The quantmap node when recipe.quantmap.target_bpw > 0 (its id), else "".
absl::StatusOr<std::string> Builder::AddQuantMap(const Variant& v, const std::string& drop_map,
                                                 const std::string& gguf) {
  const json& qm = v.recipe["quantmap"];
  if (qm.value("target_bpw", 0.0) <= 0) return std::string();
  GraphNode m = Make("quantmap", v.name);
  m.params = {{"target_bpw", qm["target_bpw"]}};
  for (const char* key : {"types", "tensors"}) {
    if (qm.contains(key)) m.params[key] = qm[key];
  }
  m.inputs = {Digest("contrib", spec_.contrib.digest), From("drop_map", drop_map, "drop_map"),
              From("gguf", gguf, "gguf")};
  return Add(std::move(m));
}

absl::StatusOr<std::vector<std::string>> Builder::AddSuite(
    const std::string& model, const std::string& gguf_node,
    const std::string& gguf_digest, const Suite& suite, const std::string& gate,
    const ServerRef* server, const VllmRef* vllm) {
  const json& profile = SuiteProfile(suite);
  std::vector<std::string> scores;
  for (int shard = 0; shard < suite.shards; ++shard) {
    std::string suffix = suite.shards == 1
                             ? suite.name
                             : absl::StrCat(suite.name, ":", shard + 1, "/", suite.shards);
    GraphNode gen = Make("generate", model, suffix);
    gen.suite = suite.name;
    gen.params = {{"bench", suite.bench}, {"profile", profile},
                  {"shard", {{"index", shard}, {"count", suite.shards}}},
                  {"server", spec_.eval.server}};
    if (server != nullptr) {
      // The server's GPUs are its own: the step needs a worker that may
      // reach it, not a card.
      gen.params["endpoint"] = {{"url", server->url}, {"model", server->model},
                                {"parallel", server->parallel}};
      gen.tools = {EndpointTool(server->url)};
    } else if (vllm != nullptr) {
      // A checkpoint folder served by `vllm serve` on the step's card.
      gen.params["vllm"] = vllm->settings;
      gen.inputs.push_back(Digest("checkpoint", vllm->checkpoint.digest));
      gen.gpus = static_cast<uint32_t>(VllmGpus(vllm->settings));
      gen.tools = {"vllm"};
    } else {
      gen.inputs.push_back(gguf_node.empty() ? Digest("gguf", gguf_digest)
                                             : From("gguf", gguf_node, "gguf"));
      gen.gpus = 1;
      gen.tools = {"llama-server"};
    }
    gen.inputs.push_back(Digest("dataset", suite.dataset.digest));
    if (!suite.fewshot.empty()) gen.inputs.push_back(Digest("fewshot", suite.fewshot.digest));
    if (!gate.empty()) gen.inputs.push_back(From("gate", gate, "decision"));
    COHORT_ASSIGN_OR_RETURN(std::string gen_id, Add(std::move(gen)));
    GraphNode score = Make("score", model, suffix);
    score.suite = suite.name;
    score.params = {{"bench", suite.bench}, {"profile", profile},
                    {"scorer_version", spec_.scorer_version}};
    score.inputs = {From("completions", gen_id, "completions"),
                    Digest("dataset", suite.dataset.digest)};
    if (!suite.fewshot.empty()) score.inputs.push_back(Digest("fewshot", suite.fewshot.digest));
    score.tools = ScoreTools(suite.bench);
    COHORT_ASSIGN_OR_RETURN(std::string score_id, Add(std::move(score)));
    scores.push_back(score_id);
  }
  return scores;
}

absl::Status Builder::AddVariant(const Variant& v) {
  ModelNodes model;
  model.name = v.name;
  COHORT_ASSIGN_OR_RETURN(std::string gguf, AddChain(v, &model));
  if (spec_.gate) {
    COHORT_ASSIGN_OR_RETURN(std::vector<std::string> probe,
                            AddSuite(v.name, gguf, "", spec_.gate->probe, ""));
    model.scores[spec_.gate->probe.name] = probe;
    GraphNode gate = Make("gate", v.name);
    gate.params = {{"metric", spec_.gate->metric}, {"op", spec_.gate->op},
                   {"value", spec_.gate->value}};
    gate.inputs = {From("scores", probe[0], "scores")};
    COHORT_ASSIGN_OR_RETURN(model.gate, Add(std::move(gate)));
  }
  for (const Suite& suite : spec_.eval.suites) {
    COHORT_ASSIGN_OR_RETURN(model.scores[suite.name],
                            AddSuite(v.name, gguf, "", suite, model.gate));
  }
  graph_.models.push_back(std::move(model));
  return absl::OkStatus();
}

absl::Status Builder::AddReference(const Reference& r) {
  ModelNodes model;
  model.name = r.name;
  model.reference = true;
  if (!r.campaign.empty()) {  // results come from the earlier campaign
    graph_.models.push_back(std::move(model));
    return absl::OkStatus();
  }
  for (const Suite& suite : spec_.eval.suites) {
    COHORT_ASSIGN_OR_RETURN(
        model.scores[suite.name],
        AddSuite(r.name, "", r.gguf.digest, suite, "", r.server.empty() ? nullptr : &r.server,
                 r.vllm.empty() ? nullptr : &r.vllm));
  }
  graph_.models.push_back(std::move(model));
  return absl::OkStatus();
}

}  // namespace

const GraphNode* Graph::Find(const std::string& id) const {
  for (const GraphNode& n : nodes) {
    if (n.id == id) return &n;
  }
  return nullptr;
}

std::string OutputOf(const std::string& kind) {
  if (kind == "dropmap") return "drop_map";
  if (kind == "prune" || kind == "upweight") return "checkpoint";
  if (kind == "convert" || kind == "quantize") return "gguf";
  if (kind == "imatrix") return "imatrix";
  if (kind == "generate") return "completions";
  if (kind == "score") return "scores";
  if (kind == "gate") return "decision";
  return "";
}

absl::StatusOr<Graph> ExpandSpec(const Spec& spec) {
  for (const InputRef* ref : InputsOf(spec)) {
    if (ref->digest.empty()) {
      return absl::FailedPreconditionError(
          ref->where.Prefix() + "input not hashed yet (call ResolveInputs)");
    }
  }
  Builder builder(spec);
  for (const Variant& v : spec.variants) COHORT_RETURN_IF_ERROR(builder.AddVariant(v));
  for (const Reference& r : spec.references) {
    COHORT_RETURN_IF_ERROR(builder.AddReference(r));
  }
  return builder.Take();
}

}  // namespace cohort::client
