// File: driver.h
//
// The generation driver: sends many chat completions to one llama-server
// and keeps exactly `concurrency` of them in flight (one per server slot, so
// no request waits in the server's queue and no slot idles). One thread, one
// libcurl multi event loop (http.h: the socket interface on epoll, so a
// wakeup costs work only for ready sockets): no thread per request.
//
// Order: longest prompt first (ties by input order), so the long problems do
// not start last and stretch the tail of the run. Each request has a
// deadline; failures are retried by class (errors.h ClassifyFailure,
// ShouldRetry): transport errors, timeouts and 503 with exponential backoff
// up to max_attempts; a 500 the chat parser raised (deterministic for a
// greedy request) at most max_deterministic_attempts times; any other 5xx
// until the same error comes back twice; 4xx never. A request that needs a
// retry goes back to the front of the queue once its backoff has passed.
//
//   DriverOptions options;
//   options.base_url = [&] { return supervisor->base_url(); };
//   options.concurrency = props.total_slots;
//   COHORT_ASSIGN_OR_RETURN(DriverStats stats, RunGeneration(options, jobs,
//       [&](GenerationOutcome outcome) { return Record(outcome); }));
//
// Non-stream requests: the driver needs the whole answer before it can do
// anything with it, the per-request deadline bounds a stalled generation, and
// one JSON body per problem is the cheapest thing to parse at 64 slots.
#ifndef COHORT_WORKER_LLAMA_DRIVER_H_
#define COHORT_WORKER_LLAMA_DRIVER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "worker/llama/api.h"
#include "worker/llama/errors.h"

namespace cohort::worker::llama {

struct GenerationJob {
  std::string key;  // the problem id; reported back in the outcome
  ChatRequest request;
};

struct GenerationOutcome {
  std::string key;
  // The parsed answer, or the final error after retries (StatusFromHttp
  // codes; kOutOfRange for a prompt that does not fit the slot).
  absl::StatusOr<ChatResult> result;
  // For a failure: errors.h ClassifyFailure's kind ("500 peg-native format")
  // and the server's own message.
  std::string error_kind;
  std::string error_message;
  int attempts = 0;
  absl::Duration latency;  // first send to final answer, backoff included
};

struct DriverOptions {
  // Called before each send: the server URL ("http://127.0.0.1:PORT"); may
  // change when a supervisor restarts the server on another port.
  std::function<std::string()> base_url;
  // Sent with every request: "Authorization: Bearer KEY" for a server that
  // asks for a key (vLLM --api-key, a hosted OpenAI-compatible endpoint).
  std::vector<std::string> headers;
  int concurrency = 2;
  absl::Duration request_timeout = absl::Hours(2);
  RetryPolicy retry;
  // Called about every `maintain_interval` on the loop thread (the
  // supervisor restarting a crashed server). A non-OK status ends the run.
  std::function<absl::Status()> maintain;
  absl::Duration maintain_interval = absl::Milliseconds(500);
};

struct DriverStats {
  int64_t requests_sent = 0;
  int64_t retries = 0;
  absl::Duration wall;
  // Time-average of requests in flight over `concurrency`: the share of
  // slot time the driver kept busy (1.0 = never a free slot).
  double in_flight_share = 0;
};

// Runs every job to an outcome. `on_done` runs on the calling thread, once
// per job, as each finishes; a non-OK return stops the run (in-flight
// requests are abandoned) and becomes RunGeneration's result. Returns
// kInvalidArgument for concurrency < 1 or a missing base_url.
absl::StatusOr<DriverStats> RunGeneration(
    const DriverOptions& options, std::vector<GenerationJob> jobs,
    absl::FunctionRef<absl::Status(GenerationOutcome)> on_done);

// The order jobs are sent in: indices into `jobs`, longest prompt first.
std::vector<size_t> SendOrder(const std::vector<GenerationJob>& jobs);

}  // namespace cohort::worker::llama

#endif  // COHORT_WORKER_LLAMA_DRIVER_H_
