#include "common/grpc_logging.h"

#include <grpc/support/log.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "spdlog/spdlog.h"

namespace cohort {
namespace {

struct Diversions {
  absl::Mutex mu;
  std::vector<const std::function<void(const std::string&)>*> sinks ABSL_GUARDED_BY(mu);
};

Diversions& TheDiversions() {
  static Diversions* diversions = new Diversions();  // gRPC may log at exit
  return *diversions;
}

// True when a sink took the line.
bool Divert(const char* message) {
  if (message == nullptr || !absl::StartsWith(message, "Handshake failed")) return false;
  Diversions& d = TheDiversions();
  absl::MutexLock lock(&d.mu);
  if (d.sinks.empty()) return false;
  const std::string text = message;
  for (const auto* sink : d.sinks) (*sink)(text);
  return true;
}

void LogThroughSpdlog(gpr_log_func_args* args) {
  if (Divert(args->message)) return;
  spdlog::level::level_enum level = spdlog::level::debug;
  if (args->severity == GPR_LOG_SEVERITY_ERROR) {
    level = spdlog::level::warn;  // gRPC's errors are a peer's failures, not ours
  } else if (args->severity == GPR_LOG_SEVERITY_INFO) {
    level = spdlog::level::info;
  }
  std::string file = args->file != nullptr ? args->file : "";
  size_t slash = file.rfind('/');
  if (slash != std::string::npos) file.erase(0, slash + 1);
  spdlog::log(level, "grpc: {} ({}:{})", args->message != nullptr ? args->message : "", file,
              args->line);
}

void Discard(gpr_log_func_args*) {}

}  // namespace

void SilenceGrpcLogsUnlessAsked() {
  if (std::getenv("GRPC_VERBOSITY") == nullptr) gpr_set_log_function(&Discard);
}

void RouteGrpcLogsToSpdlog() { gpr_set_log_function(&LogThroughSpdlog); }

HandshakeFailureDiversion::HandshakeFailureDiversion(
    std::function<void(const std::string& message)> sink)
    : sink_(std::move(sink)) {
  Diversions& d = TheDiversions();
  absl::MutexLock lock(&d.mu);
  d.sinks.push_back(&sink_);
}

HandshakeFailureDiversion::~HandshakeFailureDiversion() {
  Diversions& d = TheDiversions();
  absl::MutexLock lock(&d.mu);
  d.sinks.erase(std::find(d.sinks.begin(), d.sinks.end(), &sink_));
}

}  // namespace cohort
