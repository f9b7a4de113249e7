// File: bench_run.h
//
// One bench generation run, end to end: load the bench and profile (worker/
// eval), pick the problems (the profile's first-N, a --limit, a shard),
// skip those already in the output journal (result_log.h), connect to a
// llama-server (an external URL, or one started and supervised here),
// check that the longest prompt plus the generation budget fits a slot,
// drive the rest through the server (driver.h) with the protocol's greedy
// request, append each finished problem to the journal, and finally score
// every problem of the run with the eval core.
//
// This is what `cohort-worker bench` runs; the worker agent runs a
// `generate` step as that subprocess (worker/exec/tool_executor.cc), and
// `on_result` sees each newly finished problem as it lands.
//
//   BenchRunOptions options;
//   options.bench = "gsm8k";
//   options.dataset = "gsm8k/test.jsonl";
//   options.out = "completions.jsonl";
//   options.server_url = "http://127.0.0.1:8080";
//   COHORT_ASSIGN_OR_RETURN(BenchRunResult run, RunBench(options, nullptr));
//   std::cout << eval::ScoreSummaryToJson(run.summary).dump(2);
//
// Errors: kInvalidArgument (unknown bench, bad profile or limit),
// kNotFound (dataset), kFailedPrecondition (the slot is too small; the
// journal belongs to another run; the server would not start),
// kUnavailable (the server stayed unreachable through every retry and
// restart; finished problems stay in the journal for the rerun).
//
// A problem whose request fails for good with a per-problem error (a 500
// from the chat parser, a 400 for its prompt) is journaled with its error
// kind and message and scored as a server error (not a wrong answer). When
// more than the allowed share of the run's problems ended that way, RunBench
// fails with kFailedPrecondition naming the count, the kinds and an example
// message ("12 of 50 problems (24%) ended in server errors (500 peg-native
// format: '...'); over the 2% limit"): a number scored over mostly errors
// is not a measurement.
#ifndef COHORT_WORKER_LLAMA_BENCH_RUN_H_
#define COHORT_WORKER_LLAMA_BENCH_RUN_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "worker/eval/result.h"
#include "worker/eval/summary.h"
#include "worker/llama/errors.h"
#include "worker/llama/result_log.h"
#include "worker/llama/server_args.h"

namespace cohort::worker::llama {

struct BenchRunOptions {
  std::string bench;
  std::string dataset;
  std::string fewshot;  // the few-shot exemplars' split (GSM8K train); optional
  std::string out;  // the journal (JSONL); resumed when it exists
  std::string profile = "omk-card-2026-07";
  int limit = -1;   // overrides the profile's subset when >= 0 (0 = all)
  int shard_index = 0;  // contiguous shard of the chosen problems
  int shard_count = 1;

  // Either an external server: llama-server, or any OpenAI-compatible one
  // (vLLM) which has no /props: then `concurrency` is required, requests
  // name `server_model` (default: the first of /v1/models) and a key from
  // `api_key_file` goes as "Authorization: Bearer" ...
  std::string server_url;
  std::string server_model;
  std::string api_key_file;
  // ... or one started here: llama-server on a GGUF, or vLLM (`vllm serve`)
  // on a checkpoint folder, its thinking split by `reasoning_parser`.
  std::string model;
  ServerBackend backend = ServerBackend::kLlamaServer;
  std::string llama_server = "llama-server";
  std::string vllm = "vllm";
  std::string reasoning_parser;
  int parallel = 2;
  int ctx_size = 0;  // 0: parallel x (generation budget + prompt_allowance)
  int prompt_allowance = 4096;  // tokens per slot kept for the prompt
  int gpu = -1;
  std::string server_log;  // default: out + ".llama-server.log" (".vllm.log")
  std::vector<std::string> server_extra_args;
  absl::Duration server_start_timeout = absl::Seconds(720);
  int max_restarts = 5;
  absl::Duration restart_backoff = absl::Seconds(2);

  // Tokens kept for the answer after the reasoning budget (protocol 1.4).
  int answer_reserve = 4096;
  RetryPolicy retry;
  absl::Duration request_timeout = absl::Hours(2);
  int concurrency = 0;  // 0: the server's total_slots
  // The largest share (0..1) of the run's problems that may end in server
  // errors; more fails the run (kFailedPrecondition). < 0: the profile's
  // max_server_error_share, else kDefaultMaxServerErrorShare.
  double max_server_error_share = -1;
  // While generating, a progress line (generation_progress.h) goes to
  // `progress_sink` every `progress_period`; no sink, no lines.
  std::function<void(const std::string&)> progress_sink;
  absl::Duration progress_period = absl::Seconds(5);
};

inline constexpr double kDefaultMaxServerErrorShare = 0.02;

struct BenchRunResult {
  std::vector<eval::ProblemResult> results;  // every problem of the run
  eval::ScoreSummary summary;  // as `cohort-worker score`, plus generation
  int64_t generated = 0;   // problems answered in this run
  int64_t resumed = 0;     // problems found in the journal
  int64_t failed = 0;      // problems of the run on file with an error
  std::string server_fingerprint;
};

// Tokens one request may generate that must fit a slot beside its prompt:
// max_tokens capped at (thinking ? reasoning_budget : 0) + answer_reserve.
int64_t GenerationNeed(const eval::BenchSettings& settings, int answer_reserve);

absl::StatusOr<BenchRunResult> RunBench(
    const BenchRunOptions& options,
    const std::function<void(const GenerationRecord&)>& on_result);

}  // namespace cohort::worker::llama

#endif  // COHORT_WORKER_LLAMA_BENCH_RUN_H_
