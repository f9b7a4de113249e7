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
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
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
  std::string model = {};  // what the node is for (StepSpec.model, .suite)
  std::string suite = {};
};

// Validates and expands `nodes`. Errors (kInvalidArgument) name the node:
// duplicate or empty node ids, an unknown kind, params that are not a JSON
// object, an input naming a missing node or given both or neither sources,
// duplicate input names, a malformed digest, a cycle.
absl::StatusOr<std::vector<PlannedStep>> PlanCampaign(
    const std::vector<NodeSpec>& nodes, uint32_t default_max_attempts = 3);

// Plans a campaign one step at a time, in topological order, so that
// storing the first steps can begin before the last are planned. Create
// makes every check PlanCampaign makes except a node's params, which Next
// checks as it plans the node. `nodes` must outlive the planner.
// Not thread-safe.
class CampaignPlanner {
 public:
  static absl::StatusOr<std::unique_ptr<CampaignPlanner>> Create(
      const std::vector<NodeSpec>& nodes, uint32_t default_max_attempts = 3);
  ~CampaignPlanner();
  CampaignPlanner(const CampaignPlanner&) = delete;
  CampaignPlanner& operator=(const CampaignPlanner&) = delete;

  // Steps in the plan (distinct nodes; equal keys are still two steps).
  size_t size() const;
  // The next step in order; size() calls plan them all.
  absl::StatusOr<PlannedStep> Next();
  // Every step not planned yet, in order.
  absl::StatusOr<std::vector<PlannedStep>> PlanRest();

 private:
  struct State;
  explicit CampaignPlanner(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// A CampaignPlanner run on a thread of its own, so that a consumer (the
// store) works on the first steps while the rest are planned: on two cores
// a 10^5-step submit then costs about the larger of the two, not their sum.
// Thread-safe for one consumer thread.
class BackgroundPlanner {
 public:
  explicit BackgroundPlanner(std::unique_ptr<CampaignPlanner> planner);
  ~BackgroundPlanner();  // stops planning early and joins
  BackgroundPlanner(const BackgroundPlanner&) = delete;
  BackgroundPlanner& operator=(const BackgroundPlanner&) = delete;

  size_t size() const { return steps_.size(); }
  // Element i may be read once WaitFor returned more than i.
  const std::vector<PlannedStep>& steps() const { return steps_; }
  // Blocks until min(n, size()) steps are planned: how many are, or the
  // error that stopped planning.
  absl::StatusOr<size_t> WaitFor(size_t n);
  // Every step, after WaitFor(size()) succeeded.
  std::vector<PlannedStep> TakeSteps() { return std::move(steps_); }

 private:
  void Run();

  const std::unique_ptr<CampaignPlanner> planner_;
  std::vector<PlannedStep> steps_;  // sized up front; filled in order
  absl::Mutex mu_;
  size_t planned_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: starts after the members it uses
};

// The key of one step from its parts (see the file comment).
absl::StatusOr<std::string> ComputeStepKey(StepKind kind,
                                           const std::string& impl_version,
                                           const std::string& params_json,
                                           const std::vector<StepInput>& inputs);

// "sha256:" followed by 64 lowercase hex digits.
bool IsValidDigest(const std::string& digest);

}  // namespace cohort::server

#endif  // COHORT_SERVER_JOBGRAPH_PLAN_H_
