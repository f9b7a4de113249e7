// File: command.h
//
// How an offline subcommand plugs into cohort-worker's command line. Each
// command file exposes one Add...Command(app, selected) that declares its
// flags on a CLI11 subcommand and, when that subcommand is parsed, stores the
// function to run in *selected. main() runs it and exits with its code:
//   0 success, 1 runtime failure (I/O, tool failed), 2 bad input or usage.
#ifndef COHORT_WORKER_TOOLS_COMMAND_H_
#define COHORT_WORKER_TOOLS_COMMAND_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"
#include "worker/eval/result.h"

namespace CLI {
class App;
}  // namespace CLI

namespace cohort::worker {

using CommandFn = std::function<int()>;

// Exit codes shared by every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitBadInput = 2;

// Prints "cohort-worker <command>: <message>" to stderr and returns the exit
// code for `status`: kExitBadInput for kInvalidArgument, kNotFound,
// kFailedPrecondition, kOutOfRange, kAlreadyExists; kExitFailure otherwise.
int ReportStatus(const char* command, const absl::Status& status);

// value.dump(indent) that never throws: invalid UTF-8 cannot come from parsed
// JSON, but a completion is model output, so it is replaced, not fatal.
std::string DumpJson(const nlohmann::json& value, int indent);

// The per-problem verdicts as JSON lines (`score --out`, `bench --scores`),
// written atomically.
absl::Status WriteProblemResults(const std::string& path,
                                 const std::vector<eval::ProblemResult>& results);

}  // namespace cohort::worker

#endif  // COHORT_WORKER_TOOLS_COMMAND_H_
