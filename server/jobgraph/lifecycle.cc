#include "server/jobgraph/lifecycle.h"

#include <algorithm>
#include <iterator>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace cohort::server {
namespace {

// When a transition applies.
enum class Guard {
  kAlways,
  kRetryLeft,    // retryable code and attempts left (kFailed)
  kAttemptsLeft  // attempts left (kLeaseExpired)
};

struct Transition {
  StepState from;
  StepEvent event;
  Guard guard;
  StepState to;
};

using S = StepState;
using E = StepEvent;

// Rows of one (from, event) are tried in order; a guarded row comes before
// its fallback. The file comment of lifecycle.h is this table.
constexpr Transition kTransitions[] = {
    {S::kWaiting, E::kInputsDone, Guard::kAlways, S::kReady},
    {S::kWaiting, E::kInputFailed, Guard::kAlways, S::kBlocked},
    {S::kWaiting, E::kGateFailed, Guard::kAlways, S::kSkipped},
    {S::kWaiting, E::kCancelled, Guard::kAlways, S::kCancelled},
    {S::kReady, E::kLeased, Guard::kAlways, S::kLeased},
    {S::kReady, E::kGateFailed, Guard::kAlways, S::kSkipped},
    {S::kReady, E::kCancelled, Guard::kAlways, S::kCancelled},
    {S::kLeased, E::kCompleted, Guard::kAlways, S::kSucceeded},
    {S::kLeased, E::kFailed, Guard::kRetryLeft, S::kReady},
    {S::kLeased, E::kFailed, Guard::kAlways, S::kFailed},
    {S::kLeased, E::kLeaseExpired, Guard::kAttemptsLeft, S::kReady},
    {S::kLeased, E::kLeaseExpired, Guard::kAlways, S::kFailed},
    {S::kLeased, E::kUndelivered, Guard::kAlways, S::kReady},
    {S::kLeased, E::kInputUnavailable, Guard::kAlways, S::kReady},
    {S::kLeased, E::kInputLost, Guard::kAlways, S::kWaiting},
    {S::kLeased, E::kCancelled, Guard::kAlways, S::kCancelled},
    {S::kSucceeded, E::kRerun, Guard::kAlways, S::kWaiting},
    {S::kFailed, E::kRearmed, Guard::kAlways, S::kWaiting},
    {S::kBlocked, E::kRearmed, Guard::kAlways, S::kWaiting},
    {S::kSkipped, E::kRearmed, Guard::kAlways, S::kWaiting},
    {S::kCancelled, E::kRearmed, Guard::kAlways, S::kWaiting},
};

bool Holds(Guard guard, const RetryFacts& facts) {
  const bool attempts_left = facts.attempts < facts.max_attempts;
  switch (guard) {
    case Guard::kAlways:
      return true;
    case Guard::kRetryLeft:
      return IsRetryable(facts.code) && attempts_left;
    case Guard::kAttemptsLeft:
      return attempts_left;
  }
  return false;
}

const Transition* Find(StepState from, StepEvent event, const RetryFacts& facts) {
  for (const Transition& t : kTransitions) {
    if (t.from == from && t.event == event && Holds(t.guard, facts)) return &t;
  }
  return nullptr;
}

// "" for kAlways; the guard's words for the others, or "otherwise" for the
// unguarded fallback of a guarded row.
std::string GuardText(const Transition& t) {
  switch (t.guard) {
    case Guard::kRetryLeft:
      return " [retryable, attempts left]";
    case Guard::kAttemptsLeft:
      return " [attempts left]";
    case Guard::kAlways:
      break;
  }
  for (const Transition& other : kTransitions) {
    if (&other != &t && other.from == t.from && other.event == t.event) {
      return " [otherwise]";
    }
  }
  return "";
}

}  // namespace

absl::string_view StepEventName(StepEvent event) {
  switch (event) {
    case E::kInputsDone: return "inputs done";
    case E::kInputFailed: return "input failed";
    case E::kGateFailed: return "gate failed";
    case E::kLeased: return "leased";
    case E::kCompleted: return "completed";
    case E::kFailed: return "failed";
    case E::kLeaseExpired: return "lease expired";
    case E::kUndelivered: return "undelivered";
    case E::kInputUnavailable: return "input unavailable";
    case E::kInputLost: return "input lost";
    case E::kCancelled: return "cancelled";
    case E::kRearmed: return "re-armed";
    case E::kRerun: return "rerun";
  }
  return "unknown";
}

absl::StatusOr<StepState> Next(StepState from, StepEvent event, const RetryFacts& facts) {
  if (const Transition* t = Find(from, event, facts)) return t->to;
  return absl::FailedPreconditionError(absl::StrCat(
      "a ", StepStateName(from), " step cannot be ", StepEventName(event)));
}

bool IsRetryable(int code) {
  switch (static_cast<absl::StatusCode>(code)) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
      return true;
    default:
      return false;
  }
}

bool IsFailedLike(StepState state) {
  return std::find(std::begin(kFailedLikeStates), std::end(kFailedLikeStates), state) !=
         std::end(kFailedLikeStates);
}

bool IsRearmable(StepState state) { return Find(state, E::kRearmed, {}) != nullptr; }

std::optional<StepEvent> EventFromParents(absl::Span<const StepState> parents) {
  bool all_done = true;
  for (StepState parent : parents) {
    if (IsFailedLike(parent)) return E::kInputFailed;
    if (parent != S::kSucceeded) all_done = false;
  }
  if (all_done) return E::kInputsDone;
  return std::nullopt;
}

std::string TransitionTable() {
  std::string table;
  for (const Transition& t : kTransitions) {
    std::string from = absl::AsciiStrToUpper(StepStateName(t.from));
    std::string arrow = absl::StrCat("--", StepEventName(t.event), GuardText(t), "-->");
    from.resize(std::max<size_t>(from.size() + 1, 10), ' ');
    arrow.resize(std::max<size_t>(arrow.size() + 1, 42), ' ');
    absl::StrAppend(&table, from, arrow, absl::AsciiStrToUpper(StepStateName(t.to)), "\n");
  }
  return table;
}

}  // namespace cohort::server
