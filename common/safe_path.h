// File: safe_path.h
//
// Checks for names and paths that come from outside the process (gRPC
// requests, a peer's manifest, a lease, a spec or a step's parameters)
// before they are joined onto a local folder or stored. Each returns
// kInvalidArgument naming `what`, the offending text (C-escaped, so a NUL
// or newline shows) and the problem; nothing here touches the filesystem.
//
//   COHORT_RETURN_IF_ERROR(CheckRelativePath(request.relative_path(), "relative_path"));
//   fs::path file = fs::path(root) / request.relative_path();   // stays under root
#ifndef COHORT_COMMON_SAFE_PATH_H_
#define COHORT_COMMON_SAFE_PATH_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace cohort {

// Longest path and path component accepted (Linux's PATH_MAX / NAME_MAX).
inline constexpr size_t kMaxPathBytes = 4096;
inline constexpr size_t kMaxNameBytes = 255;

// A path that stays inside whatever folder it is joined to: not empty, not
// absolute, no "..", "." or empty components ("a//b", "a/"), no NUL or other
// control character, within the length limits.
[[nodiscard]] absl::Status CheckRelativePath(absl::string_view path,
                                             absl::string_view what);

// One path component (an artifact, input or output name): CheckRelativePath
// and no '/'.
[[nodiscard]] absl::Status CheckPlainName(absl::string_view name, absl::string_view what);

// An absolute path on a shared filesystem: starts with '/', no ".." or "."
// or empty components (one trailing '/' is fine), no NUL or other control
// character, within the length limits.
[[nodiscard]] absl::Status CheckAbsolutePath(absl::string_view path,
                                             absl::string_view what);

}  // namespace cohort

#endif  // COHORT_COMMON_SAFE_PATH_H_
