#include "worker/llama/errors.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/canonical_json.h"
#include "nlohmann/json.hpp"

namespace cohort::worker::llama {
namespace {

constexpr size_t kMaxQuotedBody = 300;

// StatusFromHttp's statuses carry their class here (a JSON object of kind,
// retry and message), so it survives re-annotation of the message.
constexpr absl::string_view kClassPayload = "type.cohort/worker.llama.FailureClass";

// "The model produced output that does not match the expected peg-native
// format" -> "peg-native format" (llama.cpp's chat parser; "Content-only
// format" on /completion).
std::string ParserFormat(absl::string_view message) {
  constexpr absl::string_view kMarker = "does not match the expected ";
  size_t at = message.find(kMarker);
  if (at == absl::string_view::npos) return "";
  absl::string_view rest = message.substr(at + kMarker.size());
  if (rest.size() < 6 || rest.substr(rest.size() - 6) != "format") return "";
  return std::string(rest);
}

}  // namespace

FailureClass ClassifyHttpError(int http_status, absl::string_view type,
                               absl::string_view message) {
  FailureClass out;
  out.message = std::string(message);
  out.kind = type.empty() ? absl::StrCat(http_status) : absl::StrCat(http_status, " ", type);
  if (http_status == 500) {
    if (std::string format = ParserFormat(message); !format.empty()) {
      out.kind = absl::StrCat("500 ", format);
      out.retry = FailureRetry::kDeterministic;
    } else if (absl::StartsWith(message, "[json.exception.")) {
      out.kind = "500 json parse error";
      out.retry = FailureRetry::kDeterministic;
    } else {
      out.retry = FailureRetry::kRepeatStops;
    }
    return out;
  }
  if (http_status == 429 || http_status == 502 || http_status == 503 || http_status == 504) {
    out.retry = FailureRetry::kTransient;
  } else if (http_status >= 500) {
    out.retry = FailureRetry::kRepeatStops;
  } else {
    out.retry = FailureRetry::kPermanent;  // 4xx and anything odd
  }
  return out;
}

FailureClass ClassifyFailure(const absl::Status& status) {
  if (auto payload = status.GetPayload(kClassPayload); payload.has_value()) {
    nlohmann::json json = ParseJsonOrDiscarded(std::string(*payload));
    if (json.is_object()) {
      FailureClass out;
      out.kind = json.value("kind", "");
      out.retry = static_cast<FailureRetry>(json.value("retry", 3));
      out.message = json.value("message", "");
      return out;
    }
  }
  FailureClass out;
  out.message = std::string(status.message());
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
      out.kind = "connection";
      out.retry = FailureRetry::kTransient;
      break;
    case absl::StatusCode::kDeadlineExceeded:
      out.kind = "timeout";
      out.retry = FailureRetry::kTransient;
      break;
    case absl::StatusCode::kInternal:
      out.kind = "bad response";
      out.retry = FailureRetry::kRepeatStops;
      break;
    default:
      out.kind = absl::StatusCodeToString(status.code());
      out.retry = FailureRetry::kPermanent;
      break;
  }
  return out;
}

bool ShouldRetry(const RetryPolicy& policy, const absl::Status& status, int attempts,
                 bool repeated, bool greedy) {
  if (status.ok() || attempts >= policy.max_attempts) return false;
  switch (ClassifyFailure(status).retry) {
    case FailureRetry::kTransient:
      return true;
    case FailureRetry::kRepeatStops:
      return !repeated;
    case FailureRetry::kDeterministic:
      return greedy ? attempts < policy.max_deterministic_attempts : !repeated;
    case FailureRetry::kPermanent:
      return false;
  }
  return false;
}

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
  } else if (json.is_object() && json.contains("message") && json["message"].is_string()) {
    // vLLM up to 0.10.0: {"object": "error", "message": ..., "type": ...}.
    message = json["message"].get<std::string>();
    if (auto it = json.find("type"); it != json.end() && it->is_string()) {
      type = it->get<std::string>();
    }
  } else if (json.is_object() && json.contains("detail") && json["detail"].is_string()) {
    message = json["detail"].get<std::string>();  // FastAPI: {"detail": "Not Found"}
  } else if (json.is_object() && json.contains("error") && json["error"].is_string()) {
    message = json["error"].get<std::string>();  // vLLM's 401: {"error": "Unauthorized"}
  } else {
    // Not a server's shape (a proxy page, a truncated body): quote a bit.
    message = std::string(body.substr(0, kMaxQuotedBody));
  }
  absl::Status status(CodeForHttpStatus(http_status, type),
                      absl::StrCat("llama-server HTTP ", http_status,
                                   type.empty() ? "" : " ", type, ": ", message));
  FailureClass failure = ClassifyHttpError(http_status, type, message);
  status.SetPayload(kClassPayload,
                    absl::Cord(nlohmann::json{{"kind", failure.kind},
                                              {"retry", static_cast<int>(failure.retry)},
                                              {"message", failure.message}}
                                   .dump(-1, ' ', false,
                                         nlohmann::json::error_handler_t::replace)));
  return status;
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
