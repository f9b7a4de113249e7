// `cohort-worker score`: re-scores completions offline, without a server.
//   cohort-worker score --bench NAME --dataset PATH --completions FILE
//                       [--out FILE] [--profile NAME|FILE]
// Prints the JSON summary (with length statistics) on stdout; --out gets one
// JSON line per scored problem, written atomically. Any bad input (missing
// file, bad JSON line, unknown bench or problem id) is exit code 2 with a
// message naming the file and line, and nothing is written.
#include <cstdio>
#include <string>

#include "CLI/CLI.hpp"
#include "common/status_macros.h"
#include "worker/eval/bench.h"
#include "worker/eval/profile.h"
#include "worker/eval/score.h"
#include "worker/eval/summary.h"
#include "worker/invocation/invocations.h"
#include "worker/tools/commands.h"

namespace cohort::worker {
namespace {

absl::StatusOr<std::string> RunScore(const ScoreInvocation& options) {
  COHORT_ASSIGN_OR_RETURN(eval::BenchSetup setup,
                          eval::SetUpBench(options.bench, options.profile, options.fewshot));
  COHORT_ASSIGN_OR_RETURN(std::vector<eval::Problem> problems,
                          setup.bench->load(options.dataset, setup.settings));
  COHORT_ASSIGN_OR_RETURN(std::vector<eval::CompletionRow> rows,
                          eval::ReadCompletions(options.completions));
  COHORT_ASSIGN_OR_RETURN(
      eval::ScoreRun run,
      eval::ScoreCompletions(*setup.bench, setup.settings, problems, rows, options.completions));
  run.summary.profile = setup.profile.name;
  run.summary.profile_digest = setup.profile.digest;
  if (!options.out.empty()) {
    COHORT_RETURN_IF_ERROR(WriteProblemResults(options.out, run.results));
  }
  return eval::ScoreSummaryToText(run.summary);
}

}  // namespace

void AddScoreCommand(CLI::App& app, CommandFn* selected) {
  auto options = std::make_shared<ScoreInvocation>();
  CLI::App* cmd = app.add_subcommand(
      ScoreInvocation::kName,
      "Re-score completions of a bench offline (no server; code runs sandboxed).");
  options->AddFlags(cmd, eval::kDefaultProfile);
  cmd->callback([options, selected] {
    *selected = [options] {
      absl::StatusOr<std::string> summary = RunScore(*options);
      if (!summary.ok()) return ReportStatus("score", summary.status());
      std::printf("%s\n", summary->c_str());
      return kExitOk;
    };
  });
}

}  // namespace cohort::worker
