// File: human_duration.h
//
// Durations as people type them on a command line: "90s", "15m", "12h",
// "30d", "2w", or a sum of such parts ("1d12h"). Whole numbers only; the
// result must be positive.
//
//   COHORT_ASSIGN_OR_RETURN(absl::Duration ttl, ParseHumanDuration("30d"));
#ifndef COHORT_COMMON_HUMAN_DURATION_H_
#define COHORT_COMMON_HUMAN_DURATION_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace cohort {

// kInvalidArgument naming the text for anything else ("", "12", "1.5h",
// "-3d", "0s", "5y").
absl::StatusOr<absl::Duration> ParseHumanDuration(absl::string_view text);

}  // namespace cohort

#endif  // COHORT_COMMON_HUMAN_DURATION_H_
