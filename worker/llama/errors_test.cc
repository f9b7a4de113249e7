#include "worker/llama/errors.h"

#include <string>

#include "absl/strings/cord.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::worker::llama {
namespace {

using ::cohort::testing::StatusIs;
using ::testing::HasSubstr;

struct Case {
  int http;
  const char* body;
  absl::StatusCode code;
};

TEST(StatusFromHttpTest, MapsRecordedErrorBodies) {
  const Case cases[] = {
      {503, R"({"error":{"message":"Loading model","type":"unavailable_error","code":503}})",
       absl::StatusCode::kUnavailable},
      {400, R"({"error":{"code":400,"message":"'messages' is required","type":"invalid_request_error"}})",
       absl::StatusCode::kInvalidArgument},
      {400, R"({"error":{"code":400,"message":"request (3010 tokens) exceeds the available context size (1024 tokens), try increasing it","type":"exceed_context_size_error","n_prompt_tokens":3010,"n_ctx":1024}})",
       absl::StatusCode::kOutOfRange},
      {404, R"({"error":{"message":"File Not Found","type":"not_found_error","code":404}})",
       absl::StatusCode::kNotFound},
      {501, R"({"error":{"code":501,"message":"This server does not support metrics endpoint.","type":"not_supported_error"}})",
       absl::StatusCode::kUnimplemented},
      {500, R"({"error":{"code":500,"message":"The model produced output that does not match the expected peg-native format","type":"server_error"}})",
       absl::StatusCode::kInternal},
      {401, R"({"error":{"message":"Invalid API Key","type":"authentication_error","code":401}})",
       absl::StatusCode::kUnauthenticated},
      {502, "<html>bad gateway</html>", absl::StatusCode::kUnavailable},
      {418, "", absl::StatusCode::kInvalidArgument},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(StatusFromHttp(c.http, c.body).code(), c.code) << c.http << " " << c.body;
  }
}

TEST(StatusFromHttpTest, MessageCarriesStatusTypeAndServerMessage) {
  absl::Status status = StatusFromHttp(
      400, R"({"error":{"code":400,"message":"request (3010 tokens) exceeds","type":"exceed_context_size_error"}})");
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kOutOfRange,
                               HasSubstr("HTTP 400 exceed_context_size_error: request (3010")));
  EXPECT_THAT(StatusFromHttp(502, "<html>gateway</html>"),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("<html>gateway")));
}

// vLLM's bodies (vllm/entrypoints/openai: api_server.py, protocol.py), as
// its versions write them.
TEST(StatusFromHttpTest, ReadsVllmErrorBodies) {
  EXPECT_THAT(StatusFromHttp(404, R"({"error":{"message":"The model `x` does not exist.",)"
                                  R"("type":"NotFoundError","param":null,"code":404}})"),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("HTTP 404 NotFoundError: The model `x` does not exist.")));
  // Up to 0.10.0: the error's fields at the top level.
  EXPECT_THAT(StatusFromHttp(400, R"({"object":"error","message":"max_tokens must be at )"
                                  R"(least 1","type":"BadRequestError","param":null,"code":400})"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("BadRequestError: max_tokens must be at least 1")));
  EXPECT_THAT(StatusFromHttp(401, R"({"error":"Unauthorized"})"),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("401: Unauthorized")));
  EXPECT_THAT(StatusFromHttp(404, R"({"detail":"Not Found"})"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("404: Not Found")));
}

TEST(RetryTest, RetriesTransportAnd5xxNever4xx) {
  EXPECT_TRUE(IsRetryable(absl::UnavailableError("refused")));
  EXPECT_TRUE(IsRetryable(absl::DeadlineExceededError("timeout")));
  EXPECT_TRUE(IsRetryable(StatusFromHttp(500, "")));
  EXPECT_TRUE(IsRetryable(StatusFromHttp(503, "")));
  EXPECT_FALSE(IsRetryable(StatusFromHttp(400, "")));
  EXPECT_FALSE(IsRetryable(StatusFromHttp(
      400, R"({"error":{"code":400,"message":"x","type":"exceed_context_size_error"}})")));
  EXPECT_FALSE(IsRetryable(StatusFromHttp(404, "")));
  EXPECT_FALSE(IsRetryable(StatusFromHttp(401, "")));
  EXPECT_FALSE(IsRetryable(StatusFromHttp(501, "")));
}

TEST(RetryTest, BackoffDoublesUpToTheCapWithBoundedJitter) {
  RetryPolicy policy;
  policy.initial_backoff = absl::Seconds(1);
  policy.max_backoff = absl::Seconds(5);
  policy.jitter = 0;
  EXPECT_EQ(BackoffDelay(policy, 1, 7), absl::Seconds(1));
  EXPECT_EQ(BackoffDelay(policy, 2, 7), absl::Seconds(2));
  EXPECT_EQ(BackoffDelay(policy, 3, 7), absl::Seconds(4));
  EXPECT_EQ(BackoffDelay(policy, 4, 7), absl::Seconds(5));
  policy.jitter = 0.25;
  for (uint64_t key = 0; key < 100; ++key) {
    absl::Duration d = BackoffDelay(policy, 1, key * 7919);
    EXPECT_GE(d, absl::Seconds(1));
    EXPECT_LT(d, absl::Seconds(1.25));
  }
  EXPECT_EQ(BackoffDelay(policy, 2, 42), BackoffDelay(policy, 2, 42));  // deterministic
}

// The recorded error bodies (tests/data/llama-server: 14, 15, 18b, 01/33,
// 31, 32 and 35_parser_errors_and_template_refusals.md), verbatim.
struct ClassCase {
  int http;
  const char* body;
  const char* kind;
  FailureRetry retry;
};

TEST(ClassifyFailureTest, RecordedBodies) {
  const ClassCase cases[] = {
      // 18b and 35: the chat parser rejects a random model's greedy output.
      {500, R"({"error":{"code":500,"message":"The model produced output that does not match the expected peg-native format","type":"server_error"}})",
       "500 peg-native format", FailureRetry::kDeterministic},
      // 35: the same on POST /completion.
      {500, R"({"error":{"code":500,"message":"The model produced output that does not match the expected Content-only format","type":"server_error"}})",
       "500 Content-only format", FailureRetry::kDeterministic},
      // 14: our body did not parse.
      {500, R"({"error":{"code":500,"message":"[json.exception.parse_error.101] parse error at line 1, column 48: syntax error while parsing array - unexpected end of input; expected ']'","type":"server_error"}})",
       "500 json parse error", FailureRetry::kDeterministic},
      // 15: the prompt does not fit the slot.
      {400, R"({"error":{"code":400,"message":"request (3010 tokens) exceeds the available context size (1024 tokens), try increasing it","type":"exceed_context_size_error","n_prompt_tokens":3010,"n_ctx":1024}})",
       "400 exceed_context_size_error", FailureRetry::kPermanent},
      // 14 and 35 (a vocabulary that cannot encode the prompt).
      {400, R"({"error":{"code":400,"message":"'messages' is required","type":"invalid_request_error"}})",
       "400 invalid_request_error", FailureRetry::kPermanent},
      {400, R"({"error":{"code":400,"message":"unordered_map::at","type":"invalid_request_error"}})",
       "400 invalid_request_error", FailureRetry::kPermanent},
      // 01 and 33: loading.
      {503, R"({"error":{"message":"Loading model","type":"unavailable_error","code":503}})",
       "503 unavailable_error", FailureRetry::kTransient},
      {401, R"({"error":{"message":"Invalid API Key","type":"authentication_error","code":401}})",
       "401 authentication_error", FailureRetry::kPermanent},
      {404, R"({"error":{"message":"File Not Found","type":"not_found_error","code":404}})",
       "404 not_found_error", FailureRetry::kPermanent},
      {501, R"({"error":{"code":501,"message":"This server does not support metrics endpoint. Start it with `--metrics`","type":"not_supported_error"}})",
       "501 not_supported_error", FailureRetry::kRepeatStops},
      // Not recorded: other 500s, proxies in front of a dying server.
      {500, R"({"error":{"code":500,"message":"CUDA error: out of memory","type":"server_error"}})",
       "500 server_error", FailureRetry::kRepeatStops},
      {502, "<html>bad gateway</html>", "502", FailureRetry::kTransient},
      {504, "", "504", FailureRetry::kTransient},
      {429, "", "429", FailureRetry::kTransient},
  };
  for (const ClassCase& c : cases) {
    FailureClass failure = ClassifyFailure(StatusFromHttp(c.http, c.body));
    EXPECT_EQ(failure.kind, c.kind) << c.body;
    EXPECT_EQ(failure.retry, c.retry) << c.body;
  }
  FailureClass peg = ClassifyFailure(StatusFromHttp(500, cases[0].body));
  EXPECT_EQ(peg.message,
            "The model produced output that does not match the expected peg-native format");
}

TEST(ClassifyFailureTest, TransportAndGarbledReplies) {
  FailureClass refused = ClassifyFailure(absl::UnavailableError("Couldn't connect to server"));
  EXPECT_EQ(refused.kind, "connection");
  EXPECT_EQ(refused.retry, FailureRetry::kTransient);
  FailureClass reset = ClassifyFailure(absl::UnavailableError("Connection reset by peer"));
  EXPECT_EQ(reset.retry, FailureRetry::kTransient);
  FailureClass timeout = ClassifyFailure(absl::DeadlineExceededError("Timeout was reached"));
  EXPECT_EQ(timeout.kind, "timeout");
  EXPECT_EQ(timeout.retry, FailureRetry::kTransient);
  FailureClass garbled = ClassifyFailure(absl::InternalError("no choices"));
  EXPECT_EQ(garbled.kind, "bad response");
  EXPECT_EQ(garbled.retry, FailureRetry::kRepeatStops);
}

TEST(ClassifyFailureTest, ClassSurvivesAnAnnotatedCopy) {
  absl::Status status = StatusFromHttp(
      500, R"({"error":{"code":500,"message":"The model produced output that does not match the expected peg-native format","type":"server_error"}})");
  absl::Status annotated(status.code(), std::string(status.message()) + " (after 2 attempts)");
  status.ForEachPayload([&](absl::string_view url, const absl::Cord& payload) {
    annotated.SetPayload(url, payload);
  });
  EXPECT_EQ(ClassifyFailure(annotated).kind, "500 peg-native format");
}

// Tries a request makes when every try fails with `status` (same message
// each time), under `policy`.
int TriesUntilGivenUp(const RetryPolicy& policy, const absl::Status& status, bool greedy) {
  int attempts = 1;
  bool repeated = false;  // the first failure repeats nothing
  while (ShouldRetry(policy, status, attempts, repeated, greedy)) {
    ++attempts;
    repeated = true;
  }
  return attempts;
}

TEST(RetryPolicyTest, DeterministicParserErrorIsTriedAtMostTwice) {
  RetryPolicy policy;  // max_attempts 6
  absl::Status peg = StatusFromHttp(
      500, R"({"error":{"code":500,"message":"The model produced output that does not match the expected peg-native format","type":"server_error"}})");
  EXPECT_EQ(TriesUntilGivenUp(policy, peg, /*greedy=*/true), 2);
  // Sampled: the next try may decode differently, so it goes on until the
  // same error comes back.
  EXPECT_EQ(TriesUntilGivenUp(policy, peg, /*greedy=*/false), 2);
  EXPECT_TRUE(ShouldRetry(policy, peg, 2, /*repeated=*/false, /*greedy=*/false));
  EXPECT_FALSE(ShouldRetry(policy, peg, 2, /*repeated=*/false, /*greedy=*/true));
}

TEST(RetryPolicyTest, A503StormIsRetriedUpToMaxAttempts) {
  RetryPolicy policy;
  absl::Status loading = StatusFromHttp(
      503, R"({"error":{"message":"Loading model","type":"unavailable_error","code":503}})");
  EXPECT_EQ(TriesUntilGivenUp(policy, loading, true), policy.max_attempts);
  EXPECT_EQ(TriesUntilGivenUp(policy, absl::UnavailableError("refused"), true),
            policy.max_attempts);
  EXPECT_EQ(TriesUntilGivenUp(policy, absl::DeadlineExceededError("slow"), true),
            policy.max_attempts);
}

TEST(RetryPolicyTest, TheSameErrorTwiceEndsAnOther500AndFourHundredsAreNeverRetried) {
  RetryPolicy policy;
  absl::Status oom = StatusFromHttp(
      500, R"({"error":{"code":500,"message":"CUDA error: out of memory","type":"server_error"}})");
  EXPECT_EQ(TriesUntilGivenUp(policy, oom, true), 2);
  // A different error each time (say, the server restarting) keeps going.
  EXPECT_TRUE(ShouldRetry(policy, oom, 4, /*repeated=*/false, true));
  EXPECT_FALSE(ShouldRetry(policy, oom, policy.max_attempts, false, true));
  EXPECT_EQ(TriesUntilGivenUp(policy, StatusFromHttp(
      400, R"({"error":{"code":400,"message":"request (3010 tokens) exceeds the available context size (1024 tokens), try increasing it","type":"exceed_context_size_error"}})"), true), 1);
  EXPECT_EQ(TriesUntilGivenUp(policy, StatusFromHttp(
      400, R"({"error":{"code":400,"message":"unordered_map::at","type":"invalid_request_error"}})"), true), 1);
  EXPECT_FALSE(ShouldRetry(policy, absl::OkStatus(), 1, false, true));
}

}  // namespace
}  // namespace cohort::worker::llama
