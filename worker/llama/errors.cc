#include "worker/llama/errors.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/canonical_json.h"
#include "nlohmann/json.hpp"

namespace cohort::worker::llama {
namespace {

constexpr size_t kMaxQuotedBody = 300;

}  // namespace

absl::StatusCode CodeForHttpStatus(int http_status, absl::string_view type) {
  switch (http_status) {
    case 400:
      // The one 400 that is about the data, not the request: the prompt does
      // not fit the slot. Callers record it per problem.
      return type == "exceed_context_size_error" ? absl::StatusCode::kOutOfRange
                                                 : absl::StatusCode::kInvalidArgument;
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 408:
      return absl::StatusCode::kDeadlineExceeded;
    case 429:
      return absl::StatusCode::kResourceExhausted;
    case 500:
      return absl::StatusCode::kInternal;
    case 501:
      return absl::StatusCode::kUnimplemented;
    case 503:
      return absl::StatusCode::kUnavailable;
    default:
      break;
  }
  if (http_status >= 400 && http_status < 500) return absl::StatusCode::kInvalidArgument;
  // 502/504 and friends come from proxies in front of a dying server.
  return absl::StatusCode::kUnavailable;
}

absl::Status StatusFromHttp(int http_status, absl::string_view body) {
  std::string type;
  std::string message;
  nlohmann::json json = ParseJsonOrDiscarded(body);
  if (json.is_object() && json.contains("error") && json["error"].is_object()) {
    const nlohmann::json& error = json["error"];
    if (auto it = error.find("type"); it != error.end() && it->is_string()) {
      type = it->get<std::string>();
    }
    if (auto it = error.find("message"); it != error.end() && it->is_string()) {
      message = it->get<std::string>();
    }
  } else {
    // Not llama-server's shape (a proxy page, a truncated body): quote a bit.
    message = std::string(body.substr(0, kMaxQuotedBody));
  }
  return absl::Status(CodeForHttpStatus(http_status, type),
                      absl::StrCat("llama-server HTTP ", http_status,
                                   type.empty() ? "" : " ", type, ": ", message));
}

bool IsRetryable(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kInternal:
      return true;
    default:
      return false;
  }
}

absl::Duration BackoffDelay(const RetryPolicy& policy, int attempt, uint64_t key_hash) {
  double factor = std::pow(policy.multiplier, std::max(0, attempt - 1));
  absl::Duration delay = std::min(policy.initial_backoff * factor, policy.max_backoff);
  // A fixed per-key fraction: reproducible, yet requests that failed together
  // (a server restart) do not all come back in the same millisecond.
  double unit = static_cast<double>(key_hash % 1000003) / 1000003.0;
  return delay * (1.0 + policy.jitter * unit);
}

}  // namespace cohort::worker::llama
