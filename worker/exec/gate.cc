#include "worker/exec/gate.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace cohort::worker {
namespace {

using json = nlohmann::json;

std::optional<double> MetricValue(const std::string& metric, const eval::ScoreSummary& summary) {
  if (metric == "accuracy") {
    if (summary.accuracy) return summary.accuracy;
    return summary.ifeval ? summary.ifeval->prompt_level_strict_acc : std::nullopt;
  }
  const eval::BudgetStats& budget = summary.length.budget;
  if (metric == "budget_saturation") return budget.share_at_or_over;
  if (summary.n == 0) return std::nullopt;
  // The card's definition: failures among the saturated outputs (0 when
  // nothing saturated), not among all n.
  return budget.at_or_over > 0 ? static_cast<double>(budget.saturated_and_failed) /
                                     static_cast<double>(budget.at_or_over)
                               : 0.0;
}

absl::StatusOr<double> Metric(const std::string& metric, const eval::ScoreSummary& summary) {
  if (metric != "accuracy" && metric != "budget_saturation" &&
      metric != "saturated_and_failed") {
    return absl::InvalidArgumentError(absl::StrCat(
        "gate metric '", metric,
        "' is not accuracy, budget_saturation or saturated_and_failed"));
  }
  std::optional<double> value = MetricValue(metric, summary);
  if (value) return *value;
  return absl::InvalidArgumentError(
      absl::StrCat("the score summary has no value for gate metric '", metric,
                   "' (nothing was scored)"));
}

}  // namespace

absl::StatusOr<GateDecision> EvaluateGate(const json& params, const eval::ScoreSummary& summary) {
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
