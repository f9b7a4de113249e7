// `cohort-worker bench`: generates completions for a text bench on a
// llama-server and scores them.
//   cohort-worker bench --bench NAME --dataset PATH --out FILE
//                       (--server-url URL | --model GGUF [--llama-server BIN])
//                       [--limit N] [--parallel N] [--profile NAME|FILE] ...
// --out is the resumable journal (one JSON line per finished problem; a
// rerun skips what is there). Prints the same JSON summary as `score`, plus
// a "generation" object. Exit codes as command.h; kUnavailable (server gone
// for good) is 1, so a supervisor can simply rerun. More than
// --max-server-error-share of the problems ending in server errors (default:
// the profile's max_server_error_share, else 2%) is exit 2: rerunning the
// same greedy requests gives the same errors.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "common/status_macros.h"
#include "worker/eval/profile.h"
#include "worker/eval/summary.h"
#include "worker/invocation/invocations.h"
#include "worker/llama/bench_run.h"
#include "worker/tools/commands.h"

namespace cohort::worker {
namespace {

absl::StatusOr<llama::BenchRunOptions> RunOptionsOf(const BenchInvocation& flags) {
  llama::BenchRunOptions run;
  COHORT_ASSIGN_OR_RETURN(run.backend, llama::ParseBackend(flags.backend));
  run.vllm = flags.vllm;
  run.reasoning_parser = flags.reasoning_parser;
  run.bench = flags.bench;
  run.dataset = flags.dataset;
  run.fewshot = flags.fewshot;
  run.out = flags.out;
  run.profile = flags.profile;
  run.limit = flags.limit;
  run.shard_index = flags.shard_index;
  run.shard_count = flags.shard_count;
  run.concurrency = flags.concurrency;
  run.max_server_error_share = flags.max_server_error_share;
  run.server_url = flags.server_url;
  run.server_model = flags.server_model;
  run.api_key_file = flags.api_key_file;
  run.model = flags.model;
  run.llama_server = flags.llama_server;
  run.parallel = flags.parallel;
  run.ctx_size = flags.ctx_size;
  run.gpu = flags.gpu;
  run.server_log = flags.server_log;
  run.server_extra_args = flags.server_args;
  run.request_timeout = absl::Seconds(flags.request_timeout_s);
  run.retry.max_attempts = flags.retries + 1;
  run.retry.initial_backoff = absl::Seconds(flags.retry_backoff_s);
  run.server_start_timeout = absl::Seconds(flags.start_timeout_s);
  run.progress_period = absl::Seconds(flags.progress_every_s);
  if (flags.progress_every_s > 0) {
    // One line each time, read by the worker (ParseToolProgress) and by eye.
    run.progress_sink = [](const std::string& line) {
      std::fprintf(stderr, "%s\n", line.c_str());
      std::fflush(stderr);
    };
  }
  return run;
}

absl::StatusOr<std::string> RunBenchCommand(const BenchInvocation& flags) {
  if (flags.server_url.empty() == flags.model.empty()) {
    return absl::InvalidArgumentError("give exactly one of --server-url and --model");
  }
  if (flags.backend != "llama-server" && !flags.server_url.empty()) {
    return absl::InvalidArgumentError("--backend picks the server started here (--model); "
                                      "a running server is whatever --server-url answers");
  }
  COHORT_ASSIGN_OR_RETURN(llama::BenchRunOptions options, RunOptionsOf(flags));
  COHORT_ASSIGN_OR_RETURN(llama::BenchRunResult result, llama::RunBench(options, nullptr));
  if (!flags.scores.empty()) {
    COHORT_RETURN_IF_ERROR(WriteProblemResults(flags.scores, result.results));
  }
  return eval::ScoreSummaryToText(result.summary);
}

}  // namespace

void AddBenchCommand(CLI::App& app, CommandFn* selected) {
  auto flags = std::make_shared<BenchInvocation>();
  CLI::App* cmd = app.add_subcommand(
      BenchInvocation::kName,
      "Generate completions of a text bench on llama-server, then score them.");
  flags->AddFlags(cmd, eval::kDefaultProfile);
  cmd->callback([flags, selected] {
    *selected = [flags] {
      absl::StatusOr<std::string> summary = RunBenchCommand(*flags);
      if (!summary.ok()) return ReportStatus("bench", summary.status());
      std::printf("%s\n", summary->c_str());
      return kExitOk;
    };
  });
}

}  // namespace cohort::worker
