// File: spec.h
//
// The researcher's campaign specs, parsed and validated. Two kinds share one
// schema (docs/cli.md):
//
//   kind: sweep   a base model, contribution data, recipe defaults, and a grid
//                 over recipe parameters; every grid point is a variant.
//   kind: cohort  a manifest: named variants, each with its recipe (lineage)
//                 and optionally the digests its artifacts are pinned to.
//
// Both carry the eval protocol (profile, server flags, suites), optional
// gates and references. Specs are YAML or JSON (JSON is parsed as YAML, so
// marks still give lines). Every error is kInvalidArgument and reads
//   "<file>:<line>:<column>: <key path>: <what is wrong>".
//
// Parsing is pure apart from reading the spec file and the profile file it
// names; inputs that are local paths are hashed later (inputs.h).
#ifndef COHORT_CLIENT_SPEC_SPEC_H_
#define COHORT_CLIENT_SPEC_SPEC_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace cohort::client {

// Where a value came from, for error messages ("spec.yaml:12:5: grid.x").
struct Where {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based
  std::string key;
  std::string Prefix() const;  // "file:line:column: key: "
};

// A user input: a local path (file or folder, hashed before submission) or
// an artifact digest already known to cohortd. With both, the path's digest
// must equal the pinned one. A suite's dataset may also be a dataset name
// ("gsm8k", "gsm8k:train", data/README.md): it becomes the file's path and
// the digest data/datasets.json (or a fetch's pins.json) pins it to.
struct InputRef {
  std::string path;    // absolute after parsing (relative to the spec file)
  std::string digest;  // "sha256:<hex>"; filled by ResolveInputs for paths
  std::string kind;    // artifact kind: checkpoint, contribution, dataset, ...
  Where where;
  // Problems (records) in the file when known: a shipped dataset's manifest
  // count, or the lines of a local .jsonl. Limits past it are clamped.
  std::optional<uint64_t> records;
  // Who pinned `digest` when the spec did not: "dataset gsm8k
  // (<its datasets.json>)" for a dataset named by name. Empty: the spec.
  std::string pinned_by;
  bool empty() const { return path.empty() && digest.empty(); }
};

// One bench run: a bench of the profile on a dataset, optionally limited to
// the first `limit` problems and split into `shards` generate/score pairs.
struct Suite {
  std::string name;   // unique in the spec; default: bench, or bench-<limit>
  std::string bench;  // a bench id of the profile
  InputRef dataset;
  // The split few-shot exemplars are drawn from (GSM8K's train split), for a
  // bench the profile runs with num_fewshot > 0; empty otherwise.
  InputRef fewshot;
  int limit = -1;     // -1: the profile's limit
  int shards = 1;
  Where where;
};

struct EvalSpec {
  std::string profile_name;        // the profile's "name"
  nlohmann::json profile;          // the whole profile object
  nlohmann::json server;           // llama-server settings (ctx_size, parallel...)
  std::vector<Suite> suites;
};

// A variant's full benches run only when its probe suite passes.
struct GateSpec {
  Suite probe;
  std::string metric;  // accuracy | budget_saturation | saturated_and_failed
  std::string op;      // >= | <=
  double value = 0;
};

// A model to compare against: a GGUF evaluated under the same protocol in
// this campaign, or a model of an earlier campaign (results read at report
// time).
// A running OpenAI-compatible server (vLLM) a reference is evaluated on:
// generate steps send it `parallel` requests at a time naming `model`, from
// workers whose operator listed `url` (cohort-worker run --endpoint).
struct ServerRef {
  std::string url;  // no trailing '/'
  std::string model;
  int parallel = 2;
  bool empty() const { return url.empty(); }
};

// A checkpoint folder a worker serves with vLLM (`vllm serve`, on a worker
// started with --vllm) to evaluate a reference under the same protocol:
// `settings` are the typed vLLM settings of common/vllm_options.h
// (parallel, reasoning_parser, max_model_len, dtype, quantization, ...).
struct VllmRef {
  InputRef checkpoint;
  nlohmann::json settings = nlohmann::json::object();
  bool empty() const { return checkpoint.empty(); }
};

struct Reference {
  std::string name;
  InputRef gguf;
  ServerRef server;  // instead of gguf
  VllmRef vllm;      // instead of gguf
  std::string campaign;  // earlier campaign id
  std::string model;     // that campaign's variant or reference name
  Where where;
};

// Digests a manifest pins a variant's artifacts to (by artifact name:
// drop_map, pruned, gguf, quantized).
using PinnedDigests = std::map<std::string, std::string>;

struct Variant {
  std::string name;
  // {"dropmap": {...flags}, "prune": {...}, "upweight": {...},
  //  "convert": {...}, "imatrix": {...}, "quantize": {...}}
  nlohmann::json recipe;
  PinnedDigests pinned;
  Where where;  // the grid, or the variant's entry in `variants`
  // Where each recipe parameter the spec set for this variant was written,
  // by "<section>.<parameter>" ("dropmap.target" -> recipe.dropmap.target,
  // grid.dropmap.class_weights.coder or variants[0].recipe.dropmap.target,
  // with its line), so an error about a value points at that value.
  // Parameters left at their defaults have no entry.
  std::map<std::string, Where> origins;
};

struct Spec {
  // What the spec asked for that will not run as written (a limit past the
  // dataset's size), for the CLI to print; the spec itself is valid.
  std::vector<std::string> warnings;
  std::string kind;  // "sweep" or "cohort"
  std::string name;
  std::string source;  // the file it was read from
  int priority = 0;
  // Attempts per step before it fails (0: cohortd's default). A step that
  // failed for good is started again with `cohort retry`.
  int max_attempts = 0;
  std::map<std::string, std::string> labels;
  InputRef base_model;
  InputRef contrib;
  InputRef v4_data, floor_map, baseline_drop_map, calibration;
  // Tool fingerprints that change results; they go into step params.
  std::string llama_cpp;       // llama.cpp build
  std::string scorer_version;
  std::vector<Variant> variants;  // grid points, or the manifest's list
  EvalSpec eval;
  std::optional<GateSpec> gate;
  std::vector<Reference> references;
};

// Parses and validates a spec file (YAML or JSON). Relative paths resolve
// against the file's folder; "${VAR}" in paths expands from the environment.
absl::StatusOr<Spec> ParseSpecFile(const std::string& path);
// The same for text already read; `source` names it in errors and `base_dir`
// resolves relative paths. An empty `base_dir` reads a stored spec (a
// campaign's spec_json, which NormalizedSpecJson wrote): nothing is read
// from files, the dataset catalog or the environment, so cohortd may parse
// what any client submitted, and a spec that would need them is an error.
absl::StatusOr<Spec> ParseSpecText(const std::string& text,
                                   const std::string& source,
                                   const std::string& base_dir);

// The normalized spec as JSON: inputs as digests (paths kept beside them),
// the profile inline, variants listed. Parsing it back (ParseSpecText) gives
// the same Spec, so cohortd keeps it as the campaign's spec_json and reports
// re-expand it. Call after ResolveInputs.
nlohmann::json NormalizedSpecJson(const Spec& spec);

// Every user input of the spec, in a stable order (for hashing and
// registration).
std::vector<InputRef*> MutableInputs(Spec& spec);
std::vector<const InputRef*> InputsOf(const Spec& spec);

}  // namespace cohort::client

#endif  // COHORT_CLIENT_SPEC_SPEC_H_
