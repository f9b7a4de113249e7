#include "worker/tools/commands.h"

namespace cohort::worker {

void AddAllCommands(CLI::App& app, CommandFn* selected) {
  AddDropmapCommand(app, selected);
  AddTensorCommands(app, selected);
  AddSynthContribCommand(app, selected);
  AddScoreCommand(app, selected);
  AddPromptsCommand(app, selected);
  AddGgufInfoCommand(app, selected);
  AddQuantmapCommand(app, selected);
  AddBenchCommand(app, selected);
}

}  // namespace cohort::worker
