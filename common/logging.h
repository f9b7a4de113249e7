// File: logging.h
//
// The one place that configures spdlog sinks. Binaries call InitLogging once
// from main(); libraries just use spdlog::info(...) etc.
//   human: "2026-11-27T20:07:51.123Z I cohortd: message"   (stderr)
//   json:  {"ts":"2026-11-27T20:07:51.123Z","level":"info","logger":"cohortd","msg":"message"}
// JSON lines are for log shippers on clusters; human is the default.
#ifndef COHORT_COMMON_LOGGING_H_
#define COHORT_COMMON_LOGGING_H_

#include <string>

#include "absl/status/status.h"

namespace cohort {

enum class LogFormat { kHuman, kJson };

struct LogOptions {
  std::string program = "cohort";
  LogFormat format = LogFormat::kHuman;
  std::string level = "info";  // trace, debug, info, warn, error, critical, off
  std::string file;            // empty: stderr
};

// kInvalidArgument for an unknown level or format.
[[nodiscard]] absl::Status InitLogging(const LogOptions& options);

// "human" / "json" -> LogFormat.
absl::Status ParseLogFormat(const std::string& text, LogFormat* format);

}  // namespace cohort

#endif  // COHORT_COMMON_LOGGING_H_
