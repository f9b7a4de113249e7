// File: gate.h
//
// The condition of a gate step (docs/steps.md) over a bench's score summary
// (worker/eval/summary.h): accuracy, budget saturation (share of
// problems at or over the budget) or saturated-and-failed share. Pure.
#ifndef COHORT_WORKER_EXEC_GATE_H_
#define COHORT_WORKER_EXEC_GATE_H_

#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "worker/eval/summary.h"

namespace cohort::worker {

struct GateDecision {
  bool held = false;
  std::string metric;
  double value = 0;
  std::string reason;  // "saturated_and_failed 0.31 > 0.1" when it did not hold
};

// kInvalidArgument for an unknown metric or operator, or a summary without
// a value for the metric (nothing scored).
absl::StatusOr<GateDecision> EvaluateGate(const nlohmann::json& params,
                                          const eval::ScoreSummary& summary);

}  // namespace cohort::worker

#endif  // COHORT_WORKER_EXEC_GATE_H_
