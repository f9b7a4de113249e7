// File: run_command.h
//
// `cohort-worker run`: the agent as a long-running process (flags in
// docs/steps.md). Lives here, not in worker/tools, because it needs gRPC.
#ifndef COHORT_WORKER_AGENT_RUN_COMMAND_H_
#define COHORT_WORKER_AGENT_RUN_COMMAND_H_

#include "worker/tools/command.h"

namespace cohort::worker {

void AddRunCommand(CLI::App& app, CommandFn* selected);

}  // namespace cohort::worker

#endif  // COHORT_WORKER_AGENT_RUN_COMMAND_H_
