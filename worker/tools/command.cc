#include "worker/tools/command.h"

#include <cstdio>
#include <string>

namespace cohort::worker {

int ReportStatus(const char* command, const absl::Status& status) {
  if (status.ok()) return kExitOk;
  std::string message(status.message());
  std::fprintf(stderr, "cohort-worker %s: %s\n", command, message.c_str());
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kAlreadyExists:
      return kExitBadInput;
    default:
      return kExitFailure;
  }
}

}  // namespace cohort::worker
