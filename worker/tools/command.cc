#include "worker/tools/command.h"

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/atomic_file.h"

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

std::string DumpJson(const nlohmann::json& value, int indent) {
  return value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

absl::Status WriteProblemResults(const std::string& path,
                                 const std::vector<eval::ProblemResult>& results) {
  std::string lines;
  for (const eval::ProblemResult& r : results) {
    absl::StrAppend(&lines, eval::ResultToLine(r), "\n");
  }
  return WriteFileAtomically(path, lines);
}

}  // namespace cohort::worker
