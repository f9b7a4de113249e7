// File: status_macros.h
//
// Early-return helpers for absl::Status / absl::StatusOr. Debian's abseil
// (20220623) has no status_macros.h; swap these for ABSL_RETURN_IF_ERROR and
// ABSL_ASSIGN_OR_RETURN once the LTS that has them is the packaged one.
//
//   absl::StatusOr<Header> ReadHeader(const std::string& path) {
//     COHORT_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
//     COHORT_RETURN_IF_ERROR(CheckMagic(bytes));
//     return ParseHeader(bytes);
//   }
#ifndef COHORT_COMMON_STATUS_MACROS_H_
#define COHORT_COMMON_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

#define COHORT_STATUS_MACROS_CONCAT_INNER_(x, y) x##y
#define COHORT_STATUS_MACROS_CONCAT_(x, y) COHORT_STATUS_MACROS_CONCAT_INNER_(x, y)

// Evaluates `expr` (an absl::Status) and returns it from the enclosing
// function if it is not OK.
#define COHORT_RETURN_IF_ERROR(expr)                      \
  do {                                                    \
    ::absl::Status cohort_status_ = (expr);               \
    if (!cohort_status_.ok()) return cohort_status_;      \
  } while (false)

// Evaluates `rexpr` (an absl::StatusOr<T>); on error returns its status,
// otherwise moves the value into `lhs` (which may be a declaration).
#define COHORT_ASSIGN_OR_RETURN(lhs, rexpr)                                   \
  COHORT_ASSIGN_OR_RETURN_IMPL_(                                              \
      COHORT_STATUS_MACROS_CONCAT_(cohort_statusor_, __LINE__), lhs, rexpr)

#define COHORT_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                  \
  if (!statusor.ok()) return std::move(statusor).status();  \
  lhs = std::move(statusor).value()

namespace cohort {

// Returns `status` with "context: " prepended to its message, keeping the code,
// so one log line tells the whole story ("reading model/x.safetensors: ...").
inline absl::Status Annotate(const absl::Status& status,
                             absl::string_view context) {
  if (status.ok()) return status;
  return absl::Status(status.code(),
                      absl::StrCat(context, ": ", status.message()));
}

}  // namespace cohort

#endif  // COHORT_COMMON_STATUS_MACROS_H_
