// `cohort-worker dropmap`: the drop-map generator with the reference's long
// flags (generate_drop_map_v5.py). Flag text is converted by the pruning
// core (DropMapOptionsFromFlags) so that int/float/choice handling matches
// argparse; its flags are DropmapInvocation's (worker/invocation), which the
// executor writes; this file only does the I/O.
#include <cstdio>
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "worker/invocation/invocations.h"
#include "worker/prune/dropmap.h"
#include "worker/prune/dropmap_options.h"
#include "worker/tools/commands.h"

namespace cohort::worker {
namespace {

int RunDropmap(const prune::DropMapFlags& flags) {
  absl::StatusOr<prune::DropMapOptions> parsed = prune::DropMapOptionsFromFlags(flags);
  if (!parsed.ok()) return ReportStatus("dropmap", parsed.status());
  absl::StatusOr<prune::DropMapResult> result = prune::GenerateDropMap(*parsed, "");
  if (!result.ok()) return ReportStatus("dropmap", result.status());
  for (const std::string& line : result->log) {
    std::printf("[dropmap] %s\n", line.c_str());
  }
  const absl::Status written = prune::WriteDropMapResult(*result, "");
  if (!written.ok()) return ReportStatus("dropmap", written);
  std::printf("[dropmap] wrote %s and %s\n", result->output_path.c_str(),
              result->summary_path.c_str());
  return kExitOk;
}

}  // namespace

void AddDropmapCommand(CLI::App& app, CommandFn* selected) {
  CLI::App* cmd = app.add_subcommand(
      "dropmap",
      "Per-layer expert drop map from contribution data "
      "(port of generate_drop_map_v5.py; same flags, same output bytes).");
  auto invocation = std::make_shared<DropmapInvocation>();
  invocation->AddFlags(cmd);
  cmd->callback([selected, invocation] {
    *selected = [invocation] { return RunDropmap(invocation->Given()); };
  });
}

}  // namespace cohort::worker
