// File: score_rows.h
//
// Reads the per-problem verdict lines `cohort-worker score --out` writes
// (worker/eval ResultToJson) into the rows a worker streams to the
// coordinator. Pure.
#ifndef COHORT_WORKER_EXEC_SCORE_ROWS_H_
#define COHORT_WORKER_EXEC_SCORE_ROWS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "worker/exec/executor.h"

namespace cohort::worker {

// Parses JSON Lines text; kInvalidArgument names the line of a bad row.
absl::StatusOr<std::vector<TaskResultRow>> ParseScoreRows(const std::string& text,
                                                          const std::string& source);
absl::StatusOr<std::vector<TaskResultRow>> ReadScoreRows(const std::string& path);

}  // namespace cohort::worker

#endif  // COHORT_WORKER_EXEC_SCORE_ROWS_H_
