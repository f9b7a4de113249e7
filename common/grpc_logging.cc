#include "common/grpc_logging.h"

#include <grpc/support/log.h>

#include <cstdlib>
#include <string>

#include "spdlog/spdlog.h"

namespace cohort {
namespace {

void LogThroughSpdlog(gpr_log_func_args* args) {
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

}  // namespace cohort
