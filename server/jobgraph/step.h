// File: step.h
//
// The coordinator's vocabulary for steps, as plain structs (no protobuf):
// kinds and states mirror cohort.v1.StepKind / StepState numerically, so the
// service converts with a static_cast.
//
// The states and what moves a step between them: lifecycle.h (one table,
// applied by the store in the transaction that persists each move).
#ifndef COHORT_SERVER_JOBGRAPH_STEP_H_
#define COHORT_SERVER_JOBGRAPH_STEP_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace cohort::server {

enum class StepKind : int {
  kUnspecified = 0,
  kDropmap = 1,
  kPrune = 2,
  kUpweight = 3,
  kConvert = 4,
  kImatrix = 5,
  kQuantize = 6,
  kGenerate = 7,
  kScore = 8,
  kGate = 9,
  kReport = 10,
  kQuantmap = 11,
};

enum class StepState : int {
  kUnspecified = 0,
  kWaiting = 1,
  kReady = 2,
  kLeased = 3,
  kSucceeded = 4,
  kFailed = 5,
  kBlocked = 6,
  kSkipped = 7,
  kCancelled = 8,
};

// "dropmap", "prune", ... ; "unspecified" for anything else.
absl::string_view StepKindName(StepKind kind);
// Inverse of StepKindName; kUnspecified when unknown.
StepKind StepKindFromName(absl::string_view name);
absl::string_view StepStateName(StepState state);

// True for states a step never leaves on its own (only resume/retry move it).
bool IsTerminal(StepState state);

struct Requirements {
  uint32_t gpus = 0;
  uint64_t gpu_memory_bytes = 0;
  uint64_t disk_bytes = 0;
  uint64_t memory_bytes = 0;
  std::vector<std::string> labels;
  std::vector<std::string> tools;

  bool operator==(const Requirements& o) const {
    return gpus == o.gpus && gpu_memory_bytes == o.gpu_memory_bytes &&
           disk_bytes == o.disk_bytes && memory_bytes == o.memory_bytes &&
           labels == o.labels && tools == o.tools;
  }
  bool operator!=(const Requirements& o) const { return !(*this == o); }
};

// A resolved input of a step.
struct StepInput {
  std::string name;
  std::string artifact_digest;  // an existing artifact, or
  std::string source_step_key;  // an output of this step
  std::string source_output;
};

// A step as planned from a campaign (before it is stored).
struct PlannedStep {
  std::string node_id;
  std::string key;
  StepKind kind = StepKind::kUnspecified;
  std::string params_json;  // canonical
  std::string impl_version;
  std::vector<StepInput> inputs;
  std::vector<std::string> parent_keys;  // distinct, sorted
  Requirements requirements;
  std::string display_name;
  uint32_t max_attempts = 3;
  // Position in the campaign's plan (topological order). Ready steps of
  // equal priority are leased by ordinal first: campaigns progress side by
  // side instead of an early big campaign holding every worker.
  uint32_t ordinal = 0;
  std::string model = {};  // the node's labels (NodeSpec)
  std::string suite = {};
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_JOBGRAPH_STEP_H_
