#include "server/jobgraph/step.h"

#include <array>

namespace cohort::server {
namespace {

constexpr std::array<absl::string_view, 12> kKindNames = {
    "unspecified", "dropmap",  "prune", "upweight", "convert", "imatrix",
    "quantize",    "generate", "score", "gate",     "report",  "quantmap"};

constexpr std::array<absl::string_view, 9> kStateNames = {
    "unspecified", "waiting", "ready",   "leased",   "succeeded",
    "failed",      "blocked", "skipped", "cancelled"};

}  // namespace

absl::string_view StepKindName(StepKind kind) {
  size_t i = static_cast<size_t>(kind);
  return i < kKindNames.size() ? kKindNames[i] : kKindNames[0];
}

StepKind StepKindFromName(absl::string_view name) {
  for (size_t i = 1; i < kKindNames.size(); ++i) {
    if (kKindNames[i] == name) return static_cast<StepKind>(i);
  }
  return StepKind::kUnspecified;
}

absl::string_view StepStateName(StepState state) {
  size_t i = static_cast<size_t>(state);
  return i < kStateNames.size() ? kStateNames[i] : kStateNames[0];
}

bool IsTerminal(StepState state) {
  switch (state) {
    case StepState::kSucceeded:
    case StepState::kFailed:
    case StepState::kBlocked:
    case StepState::kSkipped:
    case StepState::kCancelled:
      return true;
    default:
      return false;
  }
}

}  // namespace cohort::server
