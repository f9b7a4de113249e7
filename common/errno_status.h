// File: errno_status.h
//
// Maps a POSIX errno to an absl::Status whose code tells a caller whether to
// retry: ENOENT -> kNotFound, EACCES/EPERM -> kPermissionDenied,
// ENOSPC/EDQUOT -> kResourceExhausted (retry once space frees), EINTR/EAGAIN
// -> kUnavailable, EEXIST -> kAlreadyExists, anything else -> kInternal.
#ifndef COHORT_COMMON_ERRNO_STATUS_H_
#define COHORT_COMMON_ERRNO_STATUS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace cohort {

absl::Status ErrnoToStatus(int error_number, absl::string_view context);

}  // namespace cohort

#endif  // COHORT_COMMON_ERRNO_STATUS_H_
