// Internal helpers shared by the CoordinatorStore implementation files.
#ifndef COHORT_SERVER_STORE_STORE_INTERNAL_H_
#define COHORT_SERVER_STORE_STORE_INTERNAL_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "server/store/coordinator_store.h"
#include "common/sqlite/database.h"

namespace cohort::server {

inline int64_t Micros(absl::Time t) { return absl::ToUnixMicros(t); }
inline absl::Time FromMicros(int64_t us) { return absl::FromUnixMicros(us); }

inline void BindOptionalText(Statement& s, int index, const std::string& text) {
  if (text.empty()) {
    s.BindNull(index);
  } else {
    s.Bind(index, text);
  }
}

// The terms that select READY and LEASED steps, written out: SQLite uses a
// partial index (schema v6: steps_ready, steps_leased) only for a query
// whose WHERE names the index's condition literally, not through a bound
// parameter. Queries on them say INDEXED BY: without statistics SQLite may
// pick another index and sort the whole ready queue (it did, with a state
// index this store no longer has). And a join that filters steps by state
// writes +state, so that the join is driven by its selective side (a
// campaign's steps) should a state index come back.
inline constexpr const char* kReadySteps = "state = 2";   // StepState::kReady
inline constexpr const char* kLeasedSteps = "state = 3";  // StepState::kLeased
static_assert(static_cast<int>(StepState::kReady) == 2);
static_assert(static_cast<int>(StepState::kLeased) == 3);

// The columns StepFromRow reads, in order.
inline constexpr const char* kStepColumns =
    "SELECT key, kind, params_json, impl_version, state, attempts, "
    "max_attempts, lease_id, lease_epoch, lease_expiry_us, worker_id, "
    "requirements_json, priority, display_name, last_error, progress_json, "
    "gate_reason, log_tail, facts_json FROM steps";

inline StepRecord StepFromRow(const Statement& row) {
  StepRecord step;
  step.key = row.ColumnText(0);
  step.kind = static_cast<StepKind>(row.ColumnInt64(1));
  step.params_json = row.ColumnText(2);
  step.impl_version = row.ColumnText(3);
  step.state = static_cast<StepState>(row.ColumnInt64(4));
  step.attempts = static_cast<uint32_t>(row.ColumnInt64(5));
  step.max_attempts = static_cast<uint32_t>(row.ColumnInt64(6));
  step.lease_id = row.ColumnText(7);
  step.lease_epoch = static_cast<uint64_t>(row.ColumnInt64(8));
  step.lease_expiry = row.ColumnIsNull(9) ? absl::InfinitePast()
                                          : FromMicros(row.ColumnInt64(9));
  step.worker_id = row.ColumnText(10);
  step.requirements = RequirementsFromJson(row.ColumnText(11));
  step.priority = static_cast<int>(row.ColumnInt64(12));
  step.display_name = row.ColumnText(13);
  step.last_error = row.ColumnText(14);
  step.progress_json = row.ColumnText(15);
  step.gate_reason = row.ColumnText(16);
  step.log_tail = row.ColumnText(17);
  step.facts_json = row.ColumnText(18);
  return step;
}

// Runs a bound `SELECT count(*) ...` to its end; the number it answers.
inline absl::StatusOr<int64_t> Count(Statement& count) {
  int64_t n = count.Step() ? count.ColumnInt64(0) : 0;
  while (count.Step()) {
  }
  COHORT_RETURN_IF_ERROR(count.status());
  return n;
}

// Runs `select`, whose columns are a step's key and state, to its end.
inline absl::StatusOr<std::vector<std::pair<std::string, StepState>>> KeysAndStates(
    Statement& select) {
  std::vector<std::pair<std::string, StepState>> rows;
  while (select.Step()) {
    rows.emplace_back(select.ColumnText(0), static_cast<StepState>(select.ColumnInt64(1)));
  }
  COHORT_RETURN_IF_ERROR(select.status());
  return rows;
}

}  // namespace cohort::server

#endif  // COHORT_SERVER_STORE_STORE_INTERNAL_H_
