// The eval protocol, gates and references of a spec, and the normalized JSON
// form of a whole spec.
#include <filesystem>
#include <optional>
#include <set>
#include <type_traits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "client/datasets/catalog.h"
#include "client/spec/parse_internal.h"
#include "client/spec/profiles.h"
#include "common/atomic_file.h"
#include "common/canonical_json.h"
#include "common/endpoint_url.h"
#include "common/status_macros.h"
#include "common/vllm_options.h"

namespace cohort::client {
namespace spec_internal {
namespace {

using json = nlohmann::json;

absl::StatusOr<json> LoadProfile(const YNode& node, const std::string& base_dir,
                                 std::string* name) {
  json profile;
  if (node.IsMap()) {
    COHORT_ASSIGN_OR_RETURN(profile, node.ToJson());
  } else {
    COHORT_ASSIGN_OR_RETURN(std::string text, node.AsString());
    if (std::optional<json> builtin = BuiltinProfile(text)) {
      profile = *builtin;
    } else if (IsStoredSpec(base_dir)) {
      return node.Error("a stored spec holds its profile inline, not the file '" + text + "'");
    } else {
      absl::StatusOr<InputRef> path = ParseInput(node, "profile", base_dir);
      if (!path.ok() || path->path.empty()) {
        return node.Error(absl::StrCat(
            "'", text, "' is neither a built-in profile (",
            absl::StrJoin(BuiltinProfileNames(), ", "), ") nor a file"));
      }
      absl::StatusOr<std::string> body = ReadFileToString(path->path);
      if (!body.ok()) {
        return node.Error(absl::StrCat("'", text, "' is neither a built-in profile (",
                                       absl::StrJoin(BuiltinProfileNames(), ", "),
                                       ") nor a readable file: ",
                                       body.status().message()));
      }
      absl::StatusOr<json> parsed = ParseJson(*body, path->path);
      if (!parsed.ok()) return node.Error(std::string(parsed.status().message()));
      profile = *parsed;
    }
  }
  if (!profile.is_object() || !profile.contains("name") ||
      !profile["name"].is_string() || !profile.contains("benches") ||
      !profile["benches"].is_object() || profile["benches"].empty()) {
    return node.Error("a profile is an object with a string 'name' and a "
                      "non-empty 'benches' object (docs/benches.md)");
  }
  *name = profile["name"].get<std::string>();
  return profile;
}

absl::StatusOr<json> ParseServer(const YNode& node) {
  json server = {{"ctx_size", 32768}, {"parallel", 2}};
  COHORT_RETURN_IF_ERROR(node.CheckKeys(
      {"ctx_size", "parallel", "n_gpu_layers", "flash_attn", "threads",
       "batch_size", "ubatch_size", "cache_type_k", "cache_type_v",
       "extra_args"}));
  COHORT_ASSIGN_OR_RETURN(auto entries, node.Entries());
  for (const auto& [key, value] : entries) {
    if (key == "extra_args") {
      json args = json::array();
      COHORT_ASSIGN_OR_RETURN(std::vector<YNode> items, value.Items());
      for (const YNode& item : items) {
        COHORT_ASSIGN_OR_RETURN(std::string arg, item.AsString());
        args.push_back(arg);
      }
      server[key] = args;
    } else if (key == "flash_attn" || key == "cache_type_k" || key == "cache_type_v") {
      COHORT_ASSIGN_OR_RETURN(server[key], value.ToJson());
    } else {
      COHORT_ASSIGN_OR_RETURN(int64_t v, value.AsInt());
      if (v < (key == "n_gpu_layers" ? -1 : 1)) return value.Error("out of range");
      server[key] = v;
    }
  }
  return server;
}

// The data catalog from the usual folders (COHORT_DATA_DIR, the cache, the
// repository's data/).
absl::StatusOr<datasets::Catalog> LoadCatalog() {
  return datasets::Catalog::Load(
      datasets::SearchRoots(datasets::RootSettingsFromEnvironment("")));
}

// A file of dataset `name` as a spec input, pinned by the catalog.
InputRef CatalogInput(const datasets::ResolvedFile& file, const std::string& name,
                      const Where& where) {
  InputRef ref;
  ref.kind = "dataset";
  ref.where = where;
  ref.path = file.path;
  if (file.file != nullptr) ref.records = file.file->records;
  if (file.expected) {
    ref.digest = "sha256:" + file.expected->sha256;
    ref.pinned_by = absl::StrCat("dataset ", name, " (", file.expected->pinned_by, ")");
  }
  return ref;
}

// `dataset: gsm8k` (or gsm8k:SPLIT): a dataset of data/datasets.json, by
// name. Anything else, and a name-like text that is no dataset but a file in
// the spec's folder, is an input as everywhere else.
absl::StatusOr<InputRef> ParseDatasetInput(const YNode& node, const std::string& base_dir) {
  if (node.IsMap()) return ParseInput(node, "dataset", base_dir);
  COHORT_ASSIGN_OR_RETURN(std::string text, node.AsString());
  if (!datasets::LooksLikeDatasetName(text) || IsStoredSpec(base_dir)) {
    return ParseInput(node, "dataset", base_dir);
  }
  absl::StatusOr<datasets::Catalog> catalog = LoadCatalog();
  if (!catalog.ok()) return node.Error(std::string(catalog.status().message()));
  std::string name = datasets::SplitDatasetName(text).first;
  if (catalog->Find(name) == nullptr) {
    std::error_code ec;
    if (std::filesystem::exists(std::filesystem::path(base_dir) / text, ec)) {
      return ParseInput(node, "dataset", base_dir);
    }
    return node.Error(absl::StrCat("'", text, "' is neither a known dataset (",
                                   absl::StrJoin(catalog->Names(), ", "),
                                   ") nor a file"));
  }
  absl::StatusOr<datasets::ResolvedFile> file = catalog->Resolve(text);
  if (!file.ok()) return node.Error(std::string(file.status().message()));
  return CatalogInput(*file, name, node.where());
}

// Problems in a local JSON Lines file (non-empty lines), for files small
// enough to count at submit; nullopt otherwise.
std::optional<uint64_t> CountJsonLines(const std::string& path) {
  std::error_code ec;
  if (!absl::EndsWith(path, ".jsonl") || std::filesystem::file_size(path, ec) > (64u << 20) ||
      ec) {
    return std::nullopt;
  }
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return std::nullopt;
  uint64_t lines = 0;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    lines += !absl::StripAsciiWhitespace(line).empty();
  }
  return lines;
}

// A limit past the dataset's size runs every problem: say so, and name the
// suite by what runs (a suite called humaneval-500 ran 164 problems). The
// dataset's lines are counted only where `read_files` (not in a stored spec).
void ClampLimit(const YNode& node, const json& settings, bool read_files, Suite* suite,
                std::vector<std::string>* warnings) {
  std::optional<uint64_t> records = suite->dataset.records;
  if (!records && read_files && !suite->dataset.path.empty()) {
    records = CountJsonLines(suite->dataset.path);
  }
  if (!records || *records == 0) return;
  int64_t limit = suite->limit;
  if (limit < 0) {
    auto it = settings.find("limit");
    limit = it != settings.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
  }
  if (limit <= 0 || static_cast<uint64_t>(limit) <= *records) return;
  const bool default_name = !node.Get("name").has_value();
  warnings->push_back(absl::StrCat(
      node.Error(absl::StrCat("limit ", limit, " is more than the ", *records,
                              " problems of the dataset; ", *records, " run",
                              default_name ? absl::StrCat(", as suite ", suite->bench, "-",
                                                          *records)
                                           : ""))
          .message()));
  suite->limit = static_cast<int>(*records);
}

// The train split beside a dataset file given by path (the published
// layouts put train.jsonl beside test.jsonl); empty when there is none.
std::string TrainBeside(const std::string& dataset_path) {
  if (dataset_path.empty()) return "";
  std::filesystem::path dir = std::filesystem::path(dataset_path).parent_path();
  for (const char* name : {"train.jsonl", "train.jsonl.gz"}) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(dir / name, ec)) return (dir / name).string();
  }
  return "";
}

// A few-shot bench's exemplar split: the suite's `fewshot:` (a dataset name
// such as gsm8k:train, or a path), else the named dataset's train split,
// else train.jsonl beside the dataset file. A few-shot bench without one is
// a spec error here rather than a silent zero-shot run on the workers.
absl::StatusOr<InputRef> ParseFewshot(const YNode& suite_node, const YNode& dataset_node,
                                      const Suite& suite, int num_fewshot,
                                      const std::string& base_dir) {
  if (auto given = suite_node.Get("fewshot")) return ParseDatasetInput(*given, base_dir);
  if (num_fewshot <= 0) return InputRef{};
  if (IsStoredSpec(base_dir)) return dataset_node.Error("a stored spec names its fewshot split");
  if (!suite.dataset.pinned_by.empty() && dataset_node.IsScalar()) {
    COHORT_ASSIGN_OR_RETURN(std::string text, dataset_node.AsString());
    std::string name = datasets::SplitDatasetName(text).first;
    absl::StatusOr<datasets::Catalog> catalog = LoadCatalog();
    if (!catalog.ok()) return dataset_node.Error(std::string(catalog.status().message()));
    absl::StatusOr<datasets::ResolvedFile> file = catalog->Resolve(name + ":train");
    if (!file.ok()) {
      return dataset_node.Error(absl::StrCat(
          suite.bench, " is ", num_fewshot, "-shot, and dataset ", name,
          " has no train split for its exemplars: ", file.status().message()));
    }
    return CatalogInput(*file, name, dataset_node.where());
  }
  InputRef ref;
  ref.kind = "dataset";
  ref.where = dataset_node.where();
  ref.path = TrainBeside(suite.dataset.path);
  if (ref.path.empty()) {
    return dataset_node.Error(absl::StrCat(
        suite.bench, " is ", num_fewshot,
        "-shot: its exemplars come from the train split; name the dataset (dataset: ",
        suite.bench, "), put train.jsonl beside the file, or give the split as "
        "'fewshot: PATH'"));
  }
  return ref;
}

absl::StatusOr<Suite> ParseSuite(const YNode& node, const json& profile,
                                 const std::string& base_dir,
                                 std::vector<std::string>* warnings) {
  COHORT_RETURN_IF_ERROR(
      node.CheckKeys({"name", "bench", "dataset", "fewshot", "limit", "shards"}));
  Suite suite;
  suite.where = node.where();
  COHORT_ASSIGN_OR_RETURN(YNode bench, node.Require("bench"));
  COHORT_ASSIGN_OR_RETURN(suite.bench, bench.AsString());
  if (!profile["benches"].contains(suite.bench)) {
    std::vector<std::string> known;
    for (const auto& [k, v] : profile["benches"].items()) known.push_back(k);
    return bench.Error(absl::StrCat("profile '", profile["name"].get<std::string>(),
                                    "' has no bench '", suite.bench,
                                    "' (it has: ", absl::StrJoin(known, ", "), ")"));
  }
  COHORT_ASSIGN_OR_RETURN(YNode dataset, node.Require("dataset"));
  COHORT_ASSIGN_OR_RETURN(suite.dataset, ParseDatasetInput(dataset, base_dir));
  if (auto limit = node.Get("limit")) {
    COHORT_ASSIGN_OR_RETURN(int64_t v, limit->AsInt());
    if (v < 0) return limit->Error("must be >= 0 (0: every problem)");
    suite.limit = static_cast<int>(v);
  }
  if (auto shards = node.Get("shards")) {
    COHORT_ASSIGN_OR_RETURN(int64_t v, shards->AsInt());
    if (v < 1 || v > 256) return shards->Error("must be in 1..256");
    suite.shards = static_cast<int>(v);
  }
  int num_fewshot = 0;
  const json& settings = profile["benches"][suite.bench];
  auto shots = settings.find("num_fewshot");
  if (shots != settings.end() && shots->is_number_integer()) num_fewshot = shots->get<int>();
  COHORT_ASSIGN_OR_RETURN(suite.fewshot,
                          ParseFewshot(node, dataset, suite, num_fewshot, base_dir));
  ClampLimit(node, settings, !IsStoredSpec(base_dir), &suite, warnings);
  suite.name = suite.limit < 0 ? suite.bench : absl::StrCat(suite.bench, "-", suite.limit);
  if (auto name = node.Get("name")) {
    COHORT_ASSIGN_OR_RETURN(suite.name, name->AsString());
  }
  return suite;
}

absl::Status ParseCondition(const YNode& node, GateSpec* gate) {
  std::optional<YNode> metric_node;
  std::string value_text;
  if (node.IsMap()) {
    COHORT_RETURN_IF_ERROR(node.CheckKeys({"metric", "op", "value"}));
    COHORT_ASSIGN_OR_RETURN(YNode m, node.Require("metric"));
    COHORT_ASSIGN_OR_RETURN(gate->metric, m.AsString());
    COHORT_ASSIGN_OR_RETURN(YNode op, node.Require("op"));
    COHORT_ASSIGN_OR_RETURN(gate->op, op.AsString());
    COHORT_ASSIGN_OR_RETURN(YNode v, node.Require("value"));
    COHORT_ASSIGN_OR_RETURN(gate->value, v.AsDouble());
  } else {  // "accuracy >= 0.5"
    COHORT_ASSIGN_OR_RETURN(std::string text, node.AsString());
    std::vector<std::string> parts = absl::StrSplit(text, ' ', absl::SkipEmpty());
    if (parts.size() != 3 || !absl::SimpleAtod(parts[2], &gate->value)) {
      return node.Error("expected '<metric> <op> <value>', e.g. 'accuracy >= 0.5'");
    }
    gate->metric = parts[0];
    gate->op = parts[1];
  }
  if (gate->metric != "accuracy" && gate->metric != "budget_saturation" &&
      gate->metric != "saturated_and_failed") {
    return node.Error("metric must be accuracy, budget_saturation or saturated_and_failed");
  }
  if (gate->op != ">=" && gate->op != "<=") return node.Error("op must be >= or <=");
  if (gate->value < 0 || gate->value > 1) return node.Error("value is a share in [0, 1]");
  return absl::OkStatus();
}

}  // namespace

json InputJson(const InputRef& ref) {
  json out = json::object();
  if (!ref.path.empty()) out["path"] = ref.path;
  if (!ref.digest.empty()) out["digest"] = ref.digest;
  return out;
}

json SuiteJson(const Suite& s) {
  json out = {{"name", s.name}, {"bench", s.bench},
              {"dataset", InputJson(s.dataset)}, {"shards", s.shards}};
  if (s.limit >= 0) out["limit"] = s.limit;
  if (!s.fewshot.empty()) out["fewshot"] = InputJson(s.fewshot);
  return out;
}

absl::Status ParseEval(const YNode& node, const std::string& base_dir,
                       EvalSpec* eval, std::vector<std::string>* warnings) {
  COHORT_RETURN_IF_ERROR(node.CheckKeys({"profile", "server", "suites"}));
  if (auto profile = node.Get("profile")) {
    COHORT_ASSIGN_OR_RETURN(eval->profile, LoadProfile(*profile, base_dir, &eval->profile_name));
  } else {
    eval->profile = *BuiltinProfile(kDefaultProfileName);
    eval->profile_name = kDefaultProfileName;
  }
  eval->server = json{{"ctx_size", 32768}, {"parallel", 2}};
  if (auto server = node.Get("server")) {
    COHORT_ASSIGN_OR_RETURN(eval->server, ParseServer(*server));
  }
  COHORT_ASSIGN_OR_RETURN(YNode suites, node.Require("suites"));
  COHORT_ASSIGN_OR_RETURN(std::vector<YNode> items, suites.Items());
  if (items.empty()) return suites.Error("needs at least one suite");
  std::set<std::string> names;
  for (const YNode& item : items) {
    COHORT_ASSIGN_OR_RETURN(Suite suite, ParseSuite(item, eval->profile, base_dir, warnings));
    if (!names.insert(suite.name).second) {
      return item.Error(absl::StrCat("suite name '", suite.name,
                                     "' used twice; give one a 'name'"));
    }
    eval->suites.push_back(std::move(suite));
  }
  return absl::OkStatus();
}

absl::StatusOr<GateSpec> ParseGate(const YNode& node, const EvalSpec& eval,
                                   const std::string& base_dir,
                                   std::vector<std::string>* warnings) {
  COHORT_RETURN_IF_ERROR(node.CheckKeys({"probe", "condition"}));
  GateSpec gate;
  COHORT_ASSIGN_OR_RETURN(YNode probe, node.Require("probe"));
  COHORT_ASSIGN_OR_RETURN(gate.probe, ParseSuite(probe, eval.profile, base_dir, warnings));
  if (gate.probe.shards != 1) return probe.Error("a probe suite runs as one shard");
  if (!probe.Get("name")) gate.probe.name = "probe-" + gate.probe.name;
  COHORT_ASSIGN_OR_RETURN(YNode condition, node.Require("condition"));
  COHORT_RETURN_IF_ERROR(ParseCondition(condition, &gate));
  return gate;
}

namespace {

// server: {url: http://gpu-box:8000, model: NAME, parallel: 8}
absl::StatusOr<ServerRef> ParseServerRef(const YNode& node) {
  COHORT_RETURN_IF_ERROR(node.CheckKeys({"url", "model", "parallel"}));
  ServerRef server;
  COHORT_ASSIGN_OR_RETURN(YNode url, node.Require("url"));
  COHORT_ASSIGN_OR_RETURN(std::string text, url.AsString());
  server.url = NormalizeEndpointUrl(text);
  if (!IsEndpointUrl(server.url)) {
    return url.Error("expected an http:// or https:// URL without spaces");
  }
  COHORT_ASSIGN_OR_RETURN(YNode model, node.Require("model"));
  COHORT_ASSIGN_OR_RETURN(server.model, model.AsString());
  if (server.model.empty() || server.model.size() > 256) {
    return model.Error("the served model's name (what /v1/models lists), 1 to 256 characters");
  }
  if (std::optional<YNode> parallel = node.Get("parallel")) {
    COHORT_ASSIGN_OR_RETURN(int64_t n, parallel->AsInt());
    if (n < 1 || n > 1024) return parallel->Error("requests in flight: 1 to 1024");
    server.parallel = static_cast<int>(n);
  }
  return server;
}

// vllm: {checkpoint: models/gemma-nvfp4, parallel: 8, reasoning_parser: qwen3, ...}
absl::StatusOr<VllmRef> ParseVllmRef(const YNode& node, const std::string& base_dir) {
  std::vector<std::string> keys = VllmSettingKeys();
  keys.push_back("checkpoint");
  COHORT_RETURN_IF_ERROR(node.CheckKeys(keys));
  VllmRef vllm;
  COHORT_ASSIGN_OR_RETURN(YNode checkpoint, node.Require("checkpoint"));
  COHORT_ASSIGN_OR_RETURN(vllm.checkpoint, ParseInput(checkpoint, "checkpoint", base_dir));
  for (const std::string& key : VllmSettingKeys()) {
    std::optional<YNode> value = node.Get(key);
    if (!value) continue;
    COHORT_ASSIGN_OR_RETURN(vllm.settings[key], value->ToJson());
    if (absl::Status s = CheckVllmSetting(key, vllm.settings[key]); !s.ok()) {
      return value->Error(std::string(s.message()));
    }
  }
  if (!vllm.settings.contains("parallel")) {
    return node.Error("vllm needs parallel: the requests to keep in flight (--max-num-seqs)");
  }
  return vllm;
}

}  // namespace

absl::StatusOr<Reference> ParseReference(const YNode& node,
                                         const std::string& base_dir) {
  COHORT_RETURN_IF_ERROR(
      node.CheckKeys({"name", "gguf", "campaign", "model", "server", "vllm"}));
  Reference ref;
  ref.where = node.where();
  COHORT_ASSIGN_OR_RETURN(YNode name, node.Require("name"));
  COHORT_ASSIGN_OR_RETURN(ref.name, name.AsString());
  std::optional<YNode> gguf = node.Get("gguf");
  std::optional<YNode> campaign = node.Get("campaign");
  std::optional<YNode> server = node.Get("server");
  std::optional<YNode> vllm = node.Get("vllm");
  if (gguf.has_value() + campaign.has_value() + server.has_value() + vllm.has_value() != 1) {
    return node.Error("a reference needs exactly one of 'gguf' (a model file to "
                      "evaluate), 'campaign' (with 'model', from an earlier campaign), "
                      "'server' (a running OpenAI-compatible server: {url, model, parallel}) or "
                      "'vllm' (a checkpoint folder a worker serves with vLLM: {checkpoint, "
                      "parallel, ...})");
  }
  if (vllm) {
    COHORT_ASSIGN_OR_RETURN(ref.vllm, ParseVllmRef(*vllm, base_dir));
    return ref;
  }
  if (server) {
    COHORT_ASSIGN_OR_RETURN(ref.server, ParseServerRef(*server));
    return ref;
  }
  if (gguf) {
    COHORT_ASSIGN_OR_RETURN(ref.gguf, ParseInput(*gguf, "gguf", base_dir));
    return ref;
  }
  COHORT_ASSIGN_OR_RETURN(ref.campaign, campaign->AsString());
  COHORT_ASSIGN_OR_RETURN(YNode model, node.Require("model"));
  COHORT_ASSIGN_OR_RETURN(ref.model, model.AsString());
  return ref;
}

}  // namespace spec_internal

nlohmann::json NormalizedSpecJson(const Spec& spec) {
  using json = nlohmann::json;
  using spec_internal::InputJson;
  using spec_internal::SuiteJson;
  json out = {{"kind", spec.kind}, {"name", spec.name}, {"priority", spec.priority},
              {"labels", spec.labels},
              {"tools", {{"llama_cpp", spec.llama_cpp},
                         {"scorer_version", spec.scorer_version}}},
              {"base_model", InputJson(spec.base_model)},
              {"contrib", InputJson(spec.contrib)}};
  // Only when set, so the spec_json of specs without it stays as it was.
  if (spec.max_attempts > 0) out["max_attempts"] = spec.max_attempts;
  const std::pair<const char*, const InputRef*> optional_inputs[] = {
      {"v4_data", &spec.v4_data}, {"floor_map", &spec.floor_map},
      {"baseline_drop_map", &spec.baseline_drop_map},
      {"calibration", &spec.calibration}};
  for (const auto& [key, ref] : optional_inputs) {
    if (!ref->empty()) out[key] = InputJson(*ref);
  }
  for (const Variant& v : spec.variants) {
    json variant = {{"name", v.name}, {"recipe", v.recipe}};
    if (!v.pinned.empty()) variant["digests"] = v.pinned;
    out["variants"].push_back(variant);
  }
  json suites = json::array();
  for (const Suite& s : spec.eval.suites) suites.push_back(SuiteJson(s));
  out["eval"] = {{"profile", spec.eval.profile}, {"server", spec.eval.server},
                 {"suites", suites}};
  if (spec.gate) {
    json probe = SuiteJson(spec.gate->probe);
    out["gates"] = {{"probe", probe},
                    {"condition", {{"metric", spec.gate->metric},
                                   {"op", spec.gate->op},
                                   {"value", spec.gate->value}}}};
  }
  for (const Reference& r : spec.references) {
    json ref = {{"name", r.name}};
    if (!r.server.empty()) {
      ref["server"] = {{"url", r.server.url}, {"model", r.server.model},
                       {"parallel", r.server.parallel}};
    } else if (!r.vllm.empty()) {
      ref["vllm"] = r.vllm.settings;
      ref["vllm"]["checkpoint"] = InputJson(r.vllm.checkpoint);
    } else if (r.campaign.empty()) {
      ref["gguf"] = InputJson(r.gguf);
    } else {
      ref["campaign"] = r.campaign;
      ref["model"] = r.model;
    }
    out["references"].push_back(ref);
  }
  return out;
}

namespace {

// Every input of a Spec or a const Spec, as InputRef* or const InputRef*.
template <typename SpecType, typename Ref = std::conditional_t<std::is_const_v<SpecType>,
                                                               const InputRef, InputRef>>
std::vector<Ref*> ListInputs(SpecType& spec) {
  std::vector<Ref*> out = {&spec.base_model, &spec.contrib};
  for (Ref* r : {&spec.v4_data, &spec.floor_map, &spec.baseline_drop_map, &spec.calibration}) {
    if (!r->empty()) out.push_back(r);
  }
  for (auto& s : spec.eval.suites) {
    out.push_back(&s.dataset);
    if (!s.fewshot.empty()) out.push_back(&s.fewshot);
  }
  if (spec.gate) {
    out.push_back(&spec.gate->probe.dataset);
    if (!spec.gate->probe.fewshot.empty()) out.push_back(&spec.gate->probe.fewshot);
  }
  for (auto& r : spec.references) {
    if (!r.gguf.empty()) out.push_back(&r.gguf);
    if (!r.vllm.empty()) out.push_back(&r.vllm.checkpoint);
  }
  return out;
}

}  // namespace

std::vector<InputRef*> MutableInputs(Spec& spec) { return ListInputs(spec); }

std::vector<const InputRef*> InputsOf(const Spec& spec) { return ListInputs(spec); }

}  // namespace cohort::client
