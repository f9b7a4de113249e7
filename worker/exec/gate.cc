#include "worker/exec/gate.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace cohort::worker {
namespace {

using json = nlohmann::json;

absl::StatusOr<double> Metric(const std::string& metric, const json& summary) {
  double n = summary.value("n", 0.0);
  const json* budget = nullptr;
  if (summary.contains("length") && summary["length"].contains("budget")) {
    budget = &summary["length"]["budget"];
  }
  if (metric == "accuracy") {
    for (const char* key : {"accuracy", "prompt_level_strict_acc"}) {
      if (summary.contains(key) && summary[key].is_number()) return summary[key].get<double>();
    }
  } else if (metric == "budget_saturation" && budget != nullptr) {
    return budget->value("share_at_or_over", 0.0);
  } else if (metric == "saturated_and_failed" && budget != nullptr && n > 0) {
    // The card's definition: failures among the saturated outputs (0 when
    // nothing saturated), not among all n.
    const double saturated = budget->value("at_or_over", 0.0);
    return saturated > 0 ? budget->value("saturated_and_failed", 0.0) / saturated : 0.0;
  } else if (metric != "budget_saturation" && metric != "saturated_and_failed") {
    return absl::InvalidArgumentError(absl::StrCat(
        "gate metric '", metric,
        "' is not accuracy, budget_saturation or saturated_and_failed"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("the score summary has no value for gate metric '", metric, "'"));
}

}  // namespace

absl::StatusOr<GateDecision> EvaluateGate(const json& params, const json& summary) {
  GateDecision decision;
  decision.metric = params.value("metric", "");
  std::string op = params.value("op", "");
  if (!params.contains("value") || !params["value"].is_number()) {
    return absl::InvalidArgumentError("gate params need a numeric value");
  }
  double bound = params["value"].get<double>();
  absl::StatusOr<double> value = Metric(decision.metric, summary);
  if (!value.ok()) return value.status();
  decision.value = *value;
  if (op == ">=") {
    decision.held = *value >= bound;
  } else if (op == "<=") {
    decision.held = *value <= bound;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("gate op '", op, "' is not >= or <="));
  }
  if (!decision.held) {
    decision.reason = absl::StrFormat("%s %.4g %s %.4g", decision.metric, *value,
                                      op == ">=" ? "<" : ">", bound);
  }
  return decision;
}

}  // namespace cohort::worker
