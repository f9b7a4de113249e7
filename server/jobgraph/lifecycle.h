// File: lifecycle.h
//
// The step lifecycle as one table: which event moves a step from which
// state to which, and under what condition. The store applies events
// (CoordinatorStore::Apply) and persists the result in the same SQLite
// transaction; nothing else decides a step's next state. Pure: no SQLite,
// no clock.
//
//   COHORT_ASSIGN_OR_RETURN(StepState to,
//                           Next(StepState::kLeased, StepEvent::kFailed,
//                                {.code = 14, .attempts = 1, .max_attempts = 3}));
//   // to == kReady: UNAVAILABLE is retryable and attempts are left
//
// The table (lifecycle_test checks this text against kTransitions):
//
//   WAITING   --inputs done-->                          READY
//   WAITING   --input failed-->                         BLOCKED
//   WAITING   --gate failed-->                          SKIPPED
//   WAITING   --cancelled-->                            CANCELLED
//   READY     --leased-->                               LEASED
//   READY     --gate failed-->                          SKIPPED
//   READY     --cancelled-->                            CANCELLED
//   LEASED    --completed-->                            SUCCEEDED
//   LEASED    --failed [retryable, attempts left]-->    READY
//   LEASED    --failed [otherwise]-->                   FAILED
//   LEASED    --lease expired [attempts left]-->        READY
//   LEASED    --lease expired [otherwise]-->            FAILED
//   LEASED    --undelivered-->                          READY
//   LEASED    --input unavailable-->                    READY
//   LEASED    --input lost-->                           WAITING
//   LEASED    --cancelled-->                            CANCELLED
//   SUCCEEDED --rerun-->                                WAITING
//   FAILED    --re-armed-->                             WAITING
//   BLOCKED   --re-armed-->                             WAITING
//   SKIPPED   --re-armed-->                             WAITING
//   CANCELLED --re-armed-->                             WAITING
//
// Everything else is refused (kFailedPrecondition): a step in a terminal
// state moves only when re-armed (resume, retry, resubmit) or rerun.
#ifndef COHORT_SERVER_JOBGRAPH_LIFECYCLE_H_
#define COHORT_SERVER_JOBGRAPH_LIFECYCLE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "server/jobgraph/step.h"

namespace cohort::server {

enum class StepEvent : int {
  kInputsDone,        // every parent succeeded
  kInputFailed,       // a parent failed, was blocked or was cancelled
  kGateFailed,        // a gate upstream did not hold
  kLeased,            // a worker took it
  kCompleted,         // its holder reported success
  kFailed,            // its holder reported a failure (RetryFacts decide)
  kLeaseExpired,      // its holder stopped heartbeating (RetryFacts decide)
  kUndelivered,       // the lease never reached the worker (no attempt spent)
  kInputUnavailable,  // an input could not be fetched yet (offered again)
  kInputLost,         // an input's every copy is gone: its producer runs again
  kCancelled,         // its campaign was cancelled
  kRearmed,           // resume, retry or resubmit of a step that did not succeed
  kRerun,             // a resubmit with --rerun of a step that succeeded
};

// What a failure or an expiry decides on.
struct RetryFacts {
  int code = 0;               // the failure's absl status code (kFailed)
  uint32_t attempts = 0;      // attempts made, the failed one included
  uint32_t max_attempts = 0;  // the step's limit
};

// "inputs done", "failed", ...
absl::string_view StepEventName(StepEvent event);

// The state `event` moves a step in `from` to; kFailedPrecondition naming
// both when the table has no such move.
absl::StatusOr<StepState> Next(StepState from, StepEvent event,
                               const RetryFacts& facts = {});

// A failure with this status code may succeed if run again: transient
// codes (UNAVAILABLE, ABORTED, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED,
// INTERNAL, UNKNOWN), not a bad input or a bug the next attempt repeats.
bool IsRetryable(int code);
// FAILED, BLOCKED or CANCELLED: a step in one of these makes its children
// BLOCKED and its campaign FAILED.
bool IsFailedLike(StepState state);
// The states IsFailedLike is true of, for SQL "state IN (...)" lists.
inline constexpr StepState kFailedLikeStates[] = {StepState::kFailed, StepState::kBlocked,
                                                  StepState::kCancelled};
// The states kRearmed leaves (FAILED, BLOCKED, SKIPPED, CANCELLED).
bool IsRearmable(StepState state);

// What a WAITING step's parents say: kInputFailed when one is failed-like,
// kInputsDone when all succeeded (or there are none), nullopt otherwise.
std::optional<StepEvent> EventFromParents(absl::Span<const StepState> parents);

// The table above, one line per transition, generated from the table the
// code uses.
std::string TransitionTable();

}  // namespace cohort::server

#endif  // COHORT_SERVER_JOBGRAPH_LIFECYCLE_H_
