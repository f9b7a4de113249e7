// File: score_rows.h
//
// Reads back the per-problem verdict lines `cohort-worker score --out`
// writes (worker/eval ResultToLine), the rows a worker streams to the
// coordinator. Pure.
#ifndef COHORT_WORKER_EXEC_SCORE_ROWS_H_
#define COHORT_WORKER_EXEC_SCORE_ROWS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "worker/eval/result.h"

namespace cohort::worker {

// Parses JSON Lines text; kInvalidArgument names the line and the field of a
// bad row.
absl::StatusOr<std::vector<eval::ProblemResult>> ParseScoreRows(const std::string& text,
                                                                const std::string& source);
absl::StatusOr<std::vector<eval::ProblemResult>> ReadScoreRows(const std::string& path);

}  // namespace cohort::worker

#endif  // COHORT_WORKER_EXEC_SCORE_ROWS_H_
