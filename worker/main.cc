// cohort-worker: runs on each GPU machine. Wiring only: the subcommands live
// in worker/tools (offline cores) and worker/agent (the lease loop).
#include <cstdio>

#include "CLI/CLI.hpp"
#include "common/logging.h"
#include "common/version.h"
#include "worker/tools/command.h"
#include "worker/tools/commands.h"
#include "worker/agent/run_command.h"

int main(int argc, char** argv) {
  CLI::App app{
      "cohort-worker: runs prune-and-eval steps for cohortd on a GPU machine, "
      "and the pruning and eval cores as offline subcommands."};
  app.set_version_flag("--version", std::string("cohort-worker ") + COHORT_VERSION);
  app.require_subcommand(1);
  // Log lines go to stderr: an offline subcommand's stdout is its result
  // (bench and score print their summary JSON there, which a worker reads).
  // `run` sets up its own logging from its flags.
  cohort::LogOptions log;
  log.program = "cohort-worker";
  if (absl::Status s = cohort::InitLogging(log); !s.ok()) {
    std::fprintf(stderr, "cohort-worker: %s\n", std::string(s.message()).c_str());
  }
  cohort::worker::CommandFn selected;
  cohort::worker::AddAllCommands(app, &selected);
  cohort::worker::AddRunCommand(app, &selected);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : cohort::worker::kExitBadInput;
  }
  return selected ? selected() : cohort::worker::kExitBadInput;
}
