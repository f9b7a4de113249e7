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
#include "absl/strings/str_cat.h"
#include "common/atomic_file.h"
#include "common/status_macros.h"
#include "worker/eval/profile.h"
#include "worker/llama/bench_run.h"
#include "worker/tools/commands.h"

namespace cohort::worker {
namespace {

struct BenchFlags {
  llama::BenchRunOptions run;
  std::string scores;  // optional: per-problem verdicts, as `score --out`
  double request_timeout_s = 7200;
  int retries = 6;
  double backoff_s = 2;
  double start_timeout_s = 720;
  double progress_s = 5;
};

constexpr double kShareUnset = -1;

std::string Dump(const nlohmann::json& value, int indent) {
  return value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

absl::StatusOr<std::string> RunBenchCommand(BenchFlags flags) {
  if (flags.run.server_url.empty() == flags.run.model.empty()) {
    return absl::InvalidArgumentError("give exactly one of --server-url and --model");
  }
  flags.run.request_timeout = absl::Seconds(flags.request_timeout_s);
  flags.run.retry.max_attempts = flags.retries + 1;
  flags.run.retry.initial_backoff = absl::Seconds(flags.backoff_s);
  flags.run.server_start_timeout = absl::Seconds(flags.start_timeout_s);
  flags.run.progress_period = absl::Seconds(flags.progress_s);
  if (flags.progress_s > 0) {
    // One line each time, read by the worker (ParseToolProgress) and by eye.
    flags.run.progress_sink = [](const std::string& line) {
      std::fprintf(stderr, "%s\n", line.c_str());
      std::fflush(stderr);
    };
  }
  COHORT_ASSIGN_OR_RETURN(llama::BenchRunResult result, llama::RunBench(flags.run, nullptr));
  if (!flags.scores.empty()) {
    std::string lines;
    for (const eval::ProblemResult& r : result.results) {
      absl::StrAppend(&lines, Dump(eval::ResultToJson(r), -1), "\n");
    }
    COHORT_RETURN_IF_ERROR(WriteFileAtomically(flags.scores, lines));
  }
  return Dump(result.summary, 2);
}

void AddServerFlags(CLI::App* cmd, BenchFlags* flags) {
  cmd->add_option("--server-url", flags->run.server_url,
                  "an already running llama-server, e.g. http://127.0.0.1:8080");
  cmd->add_option("--model", flags->run.model, "GGUF to serve (starts llama-server here)");
  cmd->add_option("--llama-server", flags->run.llama_server, "llama-server binary")
      ->capture_default_str();
  cmd->add_option("--parallel", flags->run.parallel, "server slots (with --model)")
      ->capture_default_str();
  cmd->add_option("--ctx-size", flags->run.ctx_size,
                  "total -c (default: parallel x (generation budget + 4096))");
  cmd->add_option("--gpu", flags->run.gpu, "CUDA_VISIBLE_DEVICES for the server");
  cmd->add_option("--server-log", flags->run.server_log,
                  "server output (default: OUT.llama-server.log)");
  cmd->add_option("--server-arg", flags->run.server_extra_args,
                  "extra llama-server argument (repeatable)");
  cmd->add_option("--progress-every", flags->progress_s,
                  "seconds between progress lines on stderr while generating (0: none)")
      ->default_str("5");
  cmd->add_option("--start-timeout", flags->start_timeout_s, "seconds to wait for /health")
      ->capture_default_str();
}

}  // namespace

void AddBenchCommand(CLI::App& app, CommandFn* selected) {
  auto flags = std::make_shared<BenchFlags>();
  flags->run.profile = eval::kDefaultProfile;
  CLI::App* cmd = app.add_subcommand(
      "bench", "Generate completions of a text bench on llama-server, then score them.");
  cmd->add_option("--bench", flags->run.bench,
                  "arc_challenge, gpqa_diamond, gsm8k, math500, aime2024 or ifeval")
      ->required();
  cmd->add_option("--dataset", flags->run.dataset, "the bench's published data file")
      ->required();
  cmd->add_option("--fewshot", flags->run.fewshot,
                  "the split few-shot exemplars are drawn from (GSM8K: train.jsonl; default: "
                  "train.jsonl beside --dataset)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--out", flags->run.out, "completions journal (JSONL; resumed if present)")
      ->required();
  cmd->add_option("--limit", flags->run.limit, "first N problems (default: the profile's)");
  cmd->add_option("--shard-index", flags->run.shard_index,
                  "run only this contiguous shard of the problems (0-based)")
      ->capture_default_str();
  cmd->add_option("--shard-count", flags->run.shard_count, "number of shards")
      ->capture_default_str();
  cmd->add_option("--profile", flags->run.profile, "built-in profile name or profile JSON file")
      ->capture_default_str();
  cmd->add_option("--scores", flags->scores, "per-problem verdicts as JSONL (atomic)");
  cmd->add_option("--concurrency", flags->run.concurrency,
                  "requests in flight (default: the server's slots)");
  cmd->add_option("--request-timeout", flags->request_timeout_s, "seconds per request")
      ->capture_default_str();
  cmd->add_option("--retries", flags->retries, "retries per request for transient failures (connection, timeout, 503); "
                  "a 500 from the chat parser is tried twice at most")
      ->capture_default_str();
  cmd->add_option("--retry-backoff", flags->backoff_s, "first retry delay, seconds (doubles)")
      ->capture_default_str();
  flags->run.max_server_error_share = kShareUnset;
  cmd->add_option("--max-server-error-share", flags->run.max_server_error_share,
                  "largest share (0..1) of problems that may end in server errors before "
                  "bench fails (default: the profile's max_server_error_share, else 0.02)")
      ->check(CLI::Range(0.0, 1.0));
  AddServerFlags(cmd, flags.get());
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
