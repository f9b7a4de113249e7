// File: errors.h
//
// llama-server errors as absl::Status, and the retry policy built on them.
// Error bodies are {"error":{"code":N,"message":"...","type":"..."}} with the
// HTTP status equal to code (docs/llama-server.md §9). The HTTP status decides
// the code; `type` only refines it (type strings drift between builds):
//
//   503 unavailable_error            kUnavailable     (loading; retry)
//   400 exceed_context_size_error    kOutOfRange      (per problem; never retried)
//   400 invalid_request_error        kInvalidArgument (never retried)
//   401 authentication_error         kUnauthenticated
//   403                              kPermissionDenied
//   404 not_found_error              kNotFound
//   501 not_supported_error          kUnimplemented
//   500 server_error                 kInternal        (retried: 5xx)
//   other 4xx / 5xx                  kInvalidArgument / kUnavailable
//
// Transport failures (refused, reset, no reply) are kUnavailable, a request
// past its deadline kDeadlineExceeded.
#ifndef COHORT_WORKER_LLAMA_ERRORS_H_
#define COHORT_WORKER_LLAMA_ERRORS_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace cohort::worker::llama {

// The status for a non-2xx reply. The message names the HTTP status, the
// error type and the server's message ("llama-server HTTP 400
// exceed_context_size_error: request (3010 tokens) exceeds ...").
absl::Status StatusFromHttp(int http_status, absl::string_view body);

// The status code alone (for callers that have no body).
absl::StatusCode CodeForHttpStatus(int http_status, absl::string_view type);

struct RetryPolicy {
  int max_attempts = 6;  // total tries per request, the first included
  absl::Duration initial_backoff = absl::Seconds(2);
  double multiplier = 2.0;
  absl::Duration max_backoff = absl::Seconds(60);
  double jitter = 0.25;  // +[0, jitter) of the delay, from the request key
};

// Retried: transport errors and 5xx (kUnavailable, kDeadlineExceeded,
// kInternal). Never 4xx: a bad request or an over-long prompt fails the same
// way every time.
bool IsRetryable(const absl::Status& status);

// The wait before try number `attempt + 1`, after `attempt` failures (>= 1).
// `key_hash` spreads the jitter deterministically across requests.
absl::Duration BackoffDelay(const RetryPolicy& policy, int attempt, uint64_t key_hash);

}  // namespace cohort::worker::llama

#endif  // COHORT_WORKER_LLAMA_ERRORS_H_
