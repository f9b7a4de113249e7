// File: commands.h
//
// The registry of cohort-worker subcommands (see command.h for the contract).
#ifndef COHORT_WORKER_TOOLS_COMMANDS_H_
#define COHORT_WORKER_TOOLS_COMMANDS_H_

#include "worker/tools/command.h"

namespace cohort::worker {

// Declared in the command files; each one adds a subcommand.
void AddDropmapCommand(CLI::App& app, CommandFn* selected);
void AddTensorCommands(CLI::App& app, CommandFn* selected);  // prune, upweight, synth-model, inspect
void AddSynthContribCommand(CLI::App& app, CommandFn* selected);
void AddScoreCommand(CLI::App& app, CommandFn* selected);  // offline eval rescoring
void AddPromptsCommand(CLI::App& app, CommandFn* selected);  // what a bench run sends
void AddGgufInfoCommand(CLI::App& app, CommandFn* selected);
void AddQuantmapCommand(CLI::App& app, CommandFn* selected);  // per-layer quant types
void AddBenchCommand(CLI::App& app, CommandFn* selected);  // generate on llama-server + score

// Adds every subcommand above.
void AddAllCommands(CLI::App& app, CommandFn* selected);

}  // namespace cohort::worker

#endif  // COHORT_WORKER_TOOLS_COMMANDS_H_
