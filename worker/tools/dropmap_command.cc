#include "CLI/CLI.hpp"
#include "worker/tools/commands.h"

namespace cohort::worker {

void AddDropmapCommand(CLI::App& app, CommandFn* selected) {
  (void)app;
  (void)selected;
}

}  // namespace cohort::worker
