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
//
// Retries follow the failure's class (ClassifyFailure), not only its code:
//
//   kind                               retry
//   connection, timeout                transient: backoff up to max_attempts
//   503 unavailable_error, 502, 504,   transient: backoff up to max_attempts
//   429
//   500 <X> format (the chat parser    deterministic for a greedy request
//   rejected the output), 500 json     (same prompt, same output, same error):
//   parse error (our body)             at most max_deterministic_attempts
//   other 500 / 5xx, a garbled 200     backoff, but the same error twice for
//                                      the same request ends it
//   400 exceed_context_size_error,     never retried
//   400 invalid_request_error, 4xx
//
// The kind names the failure in the journal, the summary and messages
// ("500 peg-native format", "400 exceed_context_size_error").
#ifndef COHORT_WORKER_LLAMA_ERRORS_H_
#define COHORT_WORKER_LLAMA_ERRORS_H_

#include <cstdint>
#include <string>

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
  // Tries for a failure that repeats under greedy decoding (kDeterministic).
  int max_deterministic_attempts = 2;
  absl::Duration initial_backoff = absl::Seconds(2);
  double multiplier = 2.0;
  absl::Duration max_backoff = absl::Seconds(60);
  double jitter = 0.25;  // +[0, jitter) of the delay, from the request key
};

enum class FailureRetry {
  kTransient,      // a retry can fix it: backoff up to max_attempts
  kRepeatStops,    // backoff, but the same error twice for one request ends it
  kDeterministic,  // repeats for a greedy request: max_deterministic_attempts
  kPermanent,      // never retried
};

struct FailureClass {
  std::string kind;     // "500 peg-native format", "503 unavailable_error", "connection", ...
  FailureRetry retry = FailureRetry::kPermanent;
  std::string message;  // the server's own message (or the status message)
};

// Pure: the class of an HTTP error reply (status, `error.type`,
// `error.message`).
FailureClass ClassifyHttpError(int http_status, absl::string_view type,
                               absl::string_view message);

// The class of a failed request's status: StatusFromHttp's statuses carry
// theirs (a payload, kept by the driver's annotations); others go by code
// (kUnavailable: connection, kDeadlineExceeded: timeout, kInternal: a 200
// whose body did not parse).
FailureClass ClassifyFailure(const absl::Status& status);

// Whether try number `attempts + 1` may follow, after `attempts` failed
// tries whose last error was `status`; `repeated` says the previous try of
// the same request failed with the same kind and message, `greedy` that the
// request decodes greedily (temperature 0 or top_k 1).
bool ShouldRetry(const RetryPolicy& policy, const absl::Status& status, int attempts,
                 bool repeated, bool greedy);

// Retried: transport errors and 5xx (kUnavailable, kDeadlineExceeded,
// kInternal). Never 4xx: a bad request or an over-long prompt fails the same
// way every time.
bool IsRetryable(const absl::Status& status);

// The wait before try number `attempt + 1`, after `attempt` failures (>= 1).
// `key_hash` spreads the jitter deterministically across requests.
absl::Duration BackoffDelay(const RetryPolicy& policy, int attempt, uint64_t key_hash);

}  // namespace cohort::worker::llama

#endif  // COHORT_WORKER_LLAMA_ERRORS_H_
