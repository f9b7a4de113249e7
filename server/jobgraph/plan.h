// File: plan.h
//
// The pure core of campaign expansion: a submitted DAG of nodes becomes a
// list of steps with content-addressed keys, in topological order.
//
// A step's key is the sha256 of the canonical JSON
//   {"impl": <implementation version>, "inputs": {<name>: <ref>, ...},
//    "kind": <kind name>, "params": <canonical params>}
// where <ref> is {"digest": "sha256:..."} for an existing artifact, or
// {"output": <name>, "step": <upstream key>} for an output of another step.
// Keying a downstream step on its upstream *key* (not on the digest its
// output will have) makes the whole graph's keys known at submit time, so a
// dry run can say what is cached, and an identical resubmission maps onto the
// same steps and runs zero of them. Steps are deterministic functions of their
// key; tool fingerprints (llama.cpp build, scorer version, protocol digest)
// are part of `params`, so changing any one input changes the key.
//
//   std::vector<NodeSpec> nodes = ...;        // from the CLI's expanded spec
//   COHORT_ASSIGN_OR_RETURN(std::vector<PlannedStep> steps, PlanCampaign(nodes));
#ifndef COHORT_SERVER_JOBGRAPH_PLAN_H_
#define COHORT_SERVER_JOBGRAPH_PLAN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/jobgraph/step.h"

namespace cohort::server {

// One input of a node: an existing artifact, or an output of another node.
struct NodeInput {
  std::string name;
  std::string artifact_digest;  // set for an existing artifact
  std::string node_id;          // else: the producing node
  std::string output;           // and its output name
};

struct NodeSpec {
  std::string node_id;
  StepKind kind = StepKind::kUnspecified;
  std::string params_json = "{}";
  std::vector<NodeInput> inputs;
  Requirements requirements;
  std::string display_name;
  uint32_t max_attempts = 0;  // 0: the default
  std::string impl_version = "1";
};

// Validates and expands `nodes`. Errors (kInvalidArgument) name the node:
// duplicate or empty node ids, an unknown kind, params that are not a JSON
// object, an input naming a missing node or given both or neither sources,
// duplicate input names, a malformed digest, a cycle.
absl::StatusOr<std::vector<PlannedStep>> PlanCampaign(
    const std::vector<NodeSpec>& nodes, uint32_t default_max_attempts = 3);

// The key of one step from its parts (see the file comment).
absl::StatusOr<std::string> ComputeStepKey(StepKind kind,
                                           const std::string& impl_version,
                                           const std::string& params_json,
                                           const std::vector<StepInput>& inputs);

// "sha256:" followed by 64 lowercase hex digits.
bool IsValidDigest(const std::string& digest);

}  // namespace cohort::server

#endif  // COHORT_SERVER_JOBGRAPH_PLAN_H_
