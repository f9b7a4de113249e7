// `cohort-worker dropmap`: the drop-map generator with the reference's long
// flags (generate_drop_map_v5.py). Flag text is converted by the pruning
// core (DropMapOptionsFromFlags) so that int/float/choice handling matches
// argparse; this file only declares the flags and does the I/O.
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "worker/prune/dropmap.h"
#include "worker/prune/dropmap_options.h"
#include "worker/tools/commands.h"

namespace cohort::worker {
namespace {

using FlagStorage = std::map<std::string, std::vector<std::string>>;

int RunDropmap(const std::map<std::string, CLI::Option*>& options,
               const FlagStorage& storage) {
  prune::DropMapFlags flags;
  for (const auto& [name, option] : options) {
    if (option->count() > 0) flags[name] = storage.at(name);
  }
  absl::StatusOr<prune::DropMapOptions> parsed =
      prune::DropMapOptionsFromFlags(flags);
  if (!parsed.ok()) return ReportStatus("dropmap", parsed.status());
  absl::StatusOr<prune::DropMapResult> result =
      prune::GenerateDropMap(*parsed, "");
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
  auto storage = std::make_shared<FlagStorage>();
  auto options = std::make_shared<std::map<std::string, CLI::Option*>>();
  for (const prune::DropMapFlagSpec& spec : prune::DropMapFlagSpecs()) {
    std::vector<std::string>& values = (*storage)[spec.name];
    CLI::Option* option =
        cmd->add_option(std::string("--") + spec.name, values, spec.help);
    if (spec.nargs < 0) {
      option->expected(1, CLI::detail::expected_max_vector_size);
    } else {
      option->expected(spec.nargs);
      // argparse: a repeated single-value flag keeps its last value.
      option->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    }
    (*options)[spec.name] = option;
  }
  cmd->callback([selected, storage, options] {
    *selected = [storage, options] { return RunDropmap(*options, *storage); };
  });
}

}  // namespace cohort::worker
