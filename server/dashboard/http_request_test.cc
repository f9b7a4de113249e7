#include "server/dashboard/http_request.h"

#include "absl/strings/escaping.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::server::dashboard {
namespace {

int StatusOf(absl::string_view head, size_t max_body = 4096) {
  absl::StatusOr<RequestHead> r = ParseRequestHead(head, max_body);
  return r.ok() ? 200 : HttpStatusForParseError(r.status());
}

TEST(ParseRequestHeadTest, ReadsTheRequestLineHeadersAndDecodedPath) {
  ASSERT_OK_AND_ASSIGN(
      RequestHead h,
      ParseRequestHead("GET /api/campaigns/c%2D1/lengths?suite=gsm8k%2D50&x=1 HTTP/1.1\r\n"
                       "Host: 127.0.0.1:8080\r\nAuthorization:  Bearer abc \r\n"
                       "Cookie: a=1; cohort_token=t\r\nAUTHORIZATION: Bearer later\r\n\r\n",
                       4096));
  EXPECT_EQ(h.method, "GET");
  EXPECT_EQ(h.path, "/api/campaigns/c-1/lengths");
  EXPECT_EQ(h.query, "suite=gsm8k%2D50&x=1");  // decoded by the handler's form parser
  EXPECT_EQ(h.headers["host"], "127.0.0.1:8080");
  EXPECT_EQ(h.headers["authorization"], "Bearer later");  // a repeat: the last one
  EXPECT_EQ(h.headers["cookie"], "a=1; cohort_token=t");
  EXPECT_EQ(h.content_length, 0u);
}

TEST(ParseRequestHeadTest, TakesABodyLengthUpToTheLimit) {
  ASSERT_OK_AND_ASSIGN(RequestHead h,
                       ParseRequestHead("POST /login HTTP/1.0\r\nContent-Length: 12\r\n\r\n", 16));
  EXPECT_EQ(h.content_length, 12u);
  EXPECT_EQ(StatusOf("POST /login HTTP/1.1\r\nContent-Length: 17\r\n\r\n", 16), 413);
  EXPECT_EQ(StatusOf("POST /login HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n"),
            400);
  EXPECT_EQ(StatusOf("POST /login HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), 400);
  EXPECT_EQ(StatusOf("POST /login HTTP/1.1\r\nContent-Length: +5\r\n\r\n"), 400);
  EXPECT_EQ(StatusOf("POST /login HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"), 501);
}

TEST(ParseRequestHeadTest, RefusesPathsThatCouldLeaveWhereTheySay) {
  for (const char* target : {"/static/../etc/passwd", "/static/%2e%2e/x", "/a/./b", "/%00",
                             "/a%5cb", "/a\\b", "/%zz", "/%4", "relative", "*",
                             "http://host/absolute"}) {
    EXPECT_EQ(StatusOf(std::string("GET ") + target + " HTTP/1.1\r\n\r\n"), 400) << target;
  }
  EXPECT_EQ(StatusOf("GET /..a/b.. HTTP/1.1\r\n\r\n"), 200);  // not dot segments
}

TEST(ParseRequestHeadTest, RefusesWhatIsNotHttp1) {
  for (const char* head :
       {"\x16\x03\x01\x02\x00\r\n\r\n", "GET / HTTP/2.0\r\n\r\n", "GET /\r\n\r\n",
        "GET  / HTTP/1.1\r\n\r\n", "G(T / HTTP/1.1\r\n\r\n", "GET / HTTP/1.1\r\nNo colon\r\n\r\n",
        "GET / HTTP/1.1\r\n: empty name\r\n\r\n", "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
        "GET / HTTP/1.1\r\n folded: x\r\n\r\n", "GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n",
        "GET / HTTP/1.1\r\n", ""}) {
    EXPECT_EQ(StatusOf(head), 400) << absl::CEscape(head);
  }
}

TEST(ParseFormTest, DecodesPlusAndPercentAndKeepsMalformedEscapes) {
  std::map<std::string, std::string> form = ParseForm("a=1+2&b=%41%2f&c=%zz%4&d&=e");
  EXPECT_EQ(form["a"], "1 2");
  EXPECT_EQ(form["b"], "A/");
  EXPECT_EQ(form["c"], "%zz%4");
  EXPECT_EQ(form["d"], "");
  EXPECT_EQ(form[""], "e");
}

}  // namespace
}  // namespace cohort::server::dashboard
