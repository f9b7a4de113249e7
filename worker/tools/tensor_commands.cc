#include "CLI/CLI.hpp"
#include "worker/tools/commands.h"

namespace cohort::worker {

void AddTensorCommands(CLI::App& app, CommandFn* selected) {
  (void)app;
  (void)selected;
}

}  // namespace cohort::worker
