// cohortd: the coordinator daemon. Wiring only.
#include <cstdio>
#include <string>

#include "CLI/CLI.hpp"
#include "common/logging.h"
#include "common/version.h"

int main(int argc, char** argv) {
  CLI::App app{
      "cohortd: the cohort coordinator. Owns the SQLite job graph and results "
      "cache of prune-and-eval campaigns and dispatches their steps to "
      "cohort-worker processes over gRPC."};
  app.set_version_flag("--version", std::string("cohortd ") + COHORT_VERSION);
  std::string listen = "127.0.0.1:7400";
  std::string state_dir = "cohort-state";
  std::string log_format = "human";
  std::string log_level = "info";
  app.add_option("--listen", listen, "host:port to serve gRPC on")
      ->capture_default_str();
  app.add_option("--state-dir", state_dir,
                 "folder for the SQLite database, logs and tokens")
      ->capture_default_str();
  app.add_option("--log-format", log_format, "human or json")
      ->capture_default_str();
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  cohort::LogOptions log_options;
  log_options.program = "cohortd";
  log_options.level = log_level;
  if (absl::Status s = cohort::ParseLogFormat(log_format, &log_options.format);
      !s.ok() || !(s = cohort::InitLogging(log_options)).ok()) {
    std::fprintf(stderr, "cohortd: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  std::fprintf(stderr,
               "cohortd: the coordinator service is not built yet (open issue: "
               "SQLite job graph, lease scheduler, gRPC services); nothing to "
               "serve on %s.\n",
               listen.c_str());
  return 1;
}
