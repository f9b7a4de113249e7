#include "worker/llama/errors.h"

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

}  // namespace
}  // namespace cohort::worker::llama
