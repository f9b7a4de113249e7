// File: expand.h
//
// Expansion of a parsed spec into the campaign DAG of docs/steps.md, as
// plain structs (the CLI turns them into cohort.v1.StepSpec). Per variant:
//
//   dropmap -> prune (params.upweight when upweight.alpha != 1, fused unless
//   prune.fuse_upweight is false, then a separate upweight) -> convert
//   [-> imatrix] [-> quantize] -> per suite and shard: generate -> score.
//
// With gates, each variant first runs the probe suite (generate, score) and
// a gate step on its scores; every full-bench generate takes the gate's
// decision as an extra input named "gate", so it runs only when the gate
// held. References given as GGUFs run the same suites (no gate).
//
// Nodes with the same kind, params and inputs are one node, so variants share
// upstream work (same dropmap flags -> one dropmap, same prune -> one prune).
// Bench params carry the profile reduced to that bench (with the suite's
// limit), so a change to another bench's settings keeps these keys.
#ifndef COHORT_CLIENT_SPEC_EXPAND_H_
#define COHORT_CLIENT_SPEC_EXPAND_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/spec/spec.h"
#include "nlohmann/json.hpp"

namespace cohort::client {

struct GraphInput {
  std::string name;
  std::string digest;   // an artifact, or
  std::string node_id;  // an output of another node
  std::string output;
};

struct GraphNode {
  std::string id;    // unique in the graph
  std::string kind;  // dropmap, prune, upweight, convert, imatrix, quantize,
                     // generate, score, gate
  std::string display_name;
  nlohmann::json params;
  std::vector<GraphInput> inputs;
  uint32_t gpus = 0;
  std::vector<std::string> tools;
  std::string model;  // the variant or reference the node was made for (the
                      // first one, when later models share it)
  std::string suite;  // generate and score nodes: the suite's name
};

// What the report needs to know about one model of the campaign.
struct ModelNodes {
  std::string name;
  bool reference = false;
  // suite name -> the score node of each shard
  std::map<std::string, std::vector<std::string>> scores;
  std::string gate;  // the gate node, if any
  // artifact name (drop_map, pruned, gguf, quantized) -> producing node
  std::map<std::string, std::string> artifacts;
};

struct Graph {
  std::vector<GraphNode> nodes;  // parents before children
  std::vector<ModelNodes> models;
  const GraphNode* Find(const std::string& id) const;
};

// Needs every input digest resolved (ResolveInputs, or a normalized spec).
absl::StatusOr<Graph> ExpandSpec(const Spec& spec);

// The output name each kind produces (docs/steps.md).
std::string OutputOf(const std::string& kind);

}  // namespace cohort::client

#endif  // COHORT_CLIENT_SPEC_EXPAND_H_
