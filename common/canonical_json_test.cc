#include "common/canonical_json.h"

#include <limits>

#include "common/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace cohort {
namespace {

using ::cohort::testing::StatusIs;
using json = nlohmann::json;

TEST(CanonicalJsonTest, SortsKeysAndDropsWhitespace) {
  json value = json::parse(R"({"b": [1, 2, {"z": 1, "a": 2}], "a": "x"})");
  ASSERT_OK_AND_ASSIGN(std::string text, CanonicalJson(value));
  EXPECT_EQ(text, R"({"a":"x","b":[1,2,{"a":2,"z":1}]})");
}

TEST(CanonicalJsonTest, IntegralFloatsBecomeIntegers) {
  json value = {{"alpha", 1.0}, {"zero", -0.0}, {"w", 1.05}, {"big", 1e300}};
  ASSERT_OK_AND_ASSIGN(std::string text, CanonicalJson(value));
  EXPECT_EQ(text, R"({"alpha":1,"big":1e+300,"w":1.05,"zero":0})");
  ASSERT_OK_AND_ASSIGN(std::string a, CanonicalJsonSha256(json{{"x", 2}}));
  ASSERT_OK_AND_ASSIGN(std::string b, CanonicalJsonSha256(json{{"x", 2.0}}));
  EXPECT_EQ(a, b);
}

TEST(CanonicalJsonTest, UnicodeStaysUtf8AndControlsAreEscaped) {
  json value = "é\n\"";
  ASSERT_OK_AND_ASSIGN(std::string text, CanonicalJson(value));
  EXPECT_EQ(text, "\"é\\n\\\"\"");
}

TEST(CanonicalJsonTest, NonFiniteRefusedWithPath) {
  json value = {{"w", {1.0, std::numeric_limits<double>::quiet_NaN()}}};
  EXPECT_THAT(CanonicalJson(value),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::HasSubstr("/w/1")));
}

TEST(CanonicalJsonTest, TheRefusalNamesTheWholePath) {
  json value = {{"a", {0, 1.5, {{"b", std::numeric_limits<double>::infinity()}}}}};
  EXPECT_THAT(CanonicalJson(value),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("at /a/2/b")));
}

// Documents with no integral float are written as they are, without a copy.
TEST(CanonicalJsonTest, NothingToRewriteIsWrittenAsIs) {
  json value = {{"y", {1, "s", 0.1}}, {"x", -2.5e-300}};
  ASSERT_OK_AND_ASSIGN(std::string text, CanonicalJson(value));
  EXPECT_EQ(text, R"({"x":-2.5e-300,"y":[1,"s",0.1]})");
}

TEST(CanonicalJsonTest, InvalidUtf8Refused) {
  json value = std::string("\xff\xfe");
  EXPECT_THAT(CanonicalJson(value),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
}

// The fast path for plain ASCII and the general one write what CanonicalJson
// writes for the same string; invalid UTF-8 leaves the output untouched.
TEST(CanonicalJsonTest, AppendJsonStringWritesTheCanonicalString) {
  for (const std::string text : {"sha256:ab", "", "a \"quote\" and \\", "tab\there",
                                 "caf\xc3\xa9", "\x7f"}) {
    std::string out = "[";
    ASSERT_OK(AppendJsonString(text, &out));
    EXPECT_EQ(out, "[" + CanonicalJson(nlohmann::json(text)).value()) << text;
  }
  std::string out = "kept";
  EXPECT_FALSE(AppendJsonString("\xff\xfe", &out).ok());
  EXPECT_EQ(out, "kept");
}

TEST(CanonicalJsonTest, ParseErrorNamesSourceAndOffset) {
  EXPECT_THAT(ParseJson("{\"a\": }", "spec.json"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::AllOf(::testing::HasSubstr("spec.json"),
                                        ::testing::HasSubstr("byte 7"))));
  ASSERT_OK_AND_ASSIGN(json ok, ParseJson("[1]", "x"));
  EXPECT_EQ(ok.size(), 1u);
}

// Depth is what our recursive code (canonical form, copies, dump) pays for;
// it is bounded before parsing, by a scan that itself does not recurse.
TEST(JsonDepthTest, DeepNestingIsRefusedAndShallowPasses) {
  const std::string deep = std::string(20000, '[') + std::string(20000, ']');
  EXPECT_THAT(ParseJson(deep, "request"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::AllOf(::testing::HasSubstr("request"),
                                        ::testing::HasSubstr("deeper than 64"))));
  EXPECT_TRUE(ParseJsonOrDiscarded(deep).is_discarded());
  const std::string at_limit = std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']');
  EXPECT_OK(ParseJson(at_limit, "x").status());
  EXPECT_FALSE(ParseJsonOrDiscarded(at_limit).is_discarded());
  const std::string over = "{\"a\":" + at_limit + "}";
  EXPECT_FALSE(ParseJson(over, "x").ok());
}

TEST(JsonDepthTest, BracketsInsideStringsDoNotCount) {
  const std::string text = "{\"s\": \"" + std::string(500, '[') + "\\\"" +
                           std::string(500, '{') + "\"}";
  ASSERT_OK_AND_ASSIGN(json parsed, ParseJson(text, "x"));
  EXPECT_EQ(parsed["s"].get<std::string>().size(), 1001u);
}

TEST(JsonDepthTest, InvalidJsonIsDiscardedWithoutThrowing) {
  EXPECT_TRUE(ParseJsonOrDiscarded("{\"a\": }").is_discarded());
  EXPECT_TRUE(ParseJsonOrDiscarded("").is_discarded());
  EXPECT_EQ(ParseJsonOrDiscarded("{\"a\": [1]}")["a"][0], 1);
}

}  // namespace
}  // namespace cohort
