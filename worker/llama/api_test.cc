#include "worker/llama/api.h"

#include <filesystem>
#include <map>
#include <set>
#include <string>

#include "common/atomic_file.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "worker/llama/errors.h"

namespace cohort::worker::llama {
namespace {

using ::cohort::testing::StatusIs;
using ::testing::HasSubstr;
using Json = nlohmann::json;

std::string Recordings() { return cohort::testing::TestDataDir() + "/llama-server"; }

Json LoadRecording(const std::string& name) {
  absl::StatusOr<std::string> text = ReadFileToString(Recordings() + "/" + name);
  EXPECT_TRUE(text.ok()) << text.status();
  return Json::parse(text.ok() ? *text : "{}", nullptr, false);
}

std::string StringOr(const Json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::set<std::string> Keys(const Json& object) {
  std::set<std::string> keys;
  for (const auto& item : object.items()) keys.insert(item.key());
  return keys;
}

TEST(ChatRequestTest, ThinkingRequestCarriesTheGreedyProtocol) {
  ChatRequest request;
  request.prompt = "What is 2+2?";
  request.max_tokens = 16384;
  request.stop = {"</s>"};
  request.enable_thinking = true;
  request.reasoning_budget = 12288;
  Json body = Json::parse(BuildChatRequestBody(request));
  EXPECT_EQ(Keys(body), (std::set<std::string>{"messages", "max_tokens", "temperature", "top_k",
                                                "top_p", "min_p", "seed", "stop",
                                                "chat_template_kwargs",
                                                "reasoning_budget_tokens", "stream"}));
  EXPECT_EQ(body["messages"], Json::parse(R"([{"role":"user","content":"What is 2+2?"}])"));
  EXPECT_EQ(body["temperature"], 0.0);
  EXPECT_EQ(body["top_k"], 0);
  EXPECT_EQ(body["top_p"], 1.0);
  EXPECT_EQ(body["min_p"], 0.0);
  EXPECT_EQ(body["seed"], 1234);
  EXPECT_EQ(body["max_tokens"], 16384);
  EXPECT_TRUE(body["chat_template_kwargs"]["enable_thinking"].is_boolean());
  EXPECT_EQ(body["chat_template_kwargs"]["enable_thinking"], true);
  EXPECT_EQ(body["reasoning_budget_tokens"], 12288);
  EXPECT_EQ(body["stream"], false);
}

TEST(ChatRequestTest, ReasoningOffSendsNoBudgetAndStreamAsksForUsage) {
  ChatRequest request;
  request.prompt = "p";
  request.reasoning_budget = 12288;  // ignored without thinking
  request.stream = true;
  Json body = Json::parse(BuildChatRequestBody(request));
  EXPECT_FALSE(body.contains("reasoning_budget_tokens"));
  EXPECT_FALSE(body.contains("stop"));
  EXPECT_FALSE(body.contains("max_tokens"));
  EXPECT_EQ(body["chat_template_kwargs"]["enable_thinking"], false);
  EXPECT_EQ(body["stream_options"]["include_usage"], true);
}

// The field names we send are the ones the recorded server was sent.
// What cohort sends is what the real llama-server was sent and answered:
// every field of a fully populated request body (few-shot turns included)
// appears in a recorded chat request, and each message has the recorded
// shape.
TEST(ChatRequestTest, FieldNamesMatchTheRecordings) {
  std::set<std::string> recorded, recorded_message_keys;
  for (const auto& entry : std::filesystem::directory_iterator(Recordings())) {
    if (entry.path().extension() != ".json") continue;
    Json file = LoadRecording(entry.path().filename().string());
    if (!file.is_object() || !file.contains("exchanges")) continue;
    for (const Json& exchange : file["exchanges"]) {
      if (StringOr(exchange["request"], "path") != "/v1/chat/completions") continue;
      Json body = Json::parse(StringOr(exchange["request"], "body"), nullptr, false);
      if (!body.is_object()) continue;
      for (const auto& item : body.items()) recorded.insert(item.key());
      if (body.contains("messages") && body["messages"].is_array()) {
        for (const Json& m : body["messages"]) {
          for (const auto& item : m.items()) recorded_message_keys.insert(item.key());
        }
      }
    }
  }
  ChatRequest request;
  request.history = {{"user", "Question: 1+1?\nAnswer:"}, {"assistant", "2"}};
  request.prompt = "Question: 2+2?\nAnswer:";
  request.max_tokens = 64;
  request.stop = {"Question:"};
  request.enable_thinking = true;
  request.reasoning_budget = 32;
  request.stream = true;
  Json body = Json::parse(BuildChatRequestBody(request));
  // The greedy sampler fields no recording happened to send: llama-server
  // documents them (docs/llama-server.md, "Sampling fields") and the
  // real-tools suite sends them to a real server on every request (200s).
  const std::set<std::string> documented = {"top_k", "top_p", "min_p"};
  for (const auto& item : body.items()) {
    EXPECT_TRUE(recorded.count(item.key()) || documented.count(item.key()))
        << item.key() << " was never sent to the real server";
  }
  for (const std::string& field : documented) EXPECT_TRUE(body.contains(field)) << field;
  ASSERT_EQ(body["messages"].size(), 3u);
  EXPECT_EQ(body["messages"][0]["role"], "user");
  EXPECT_EQ(body["messages"][1]["role"], "assistant");
  EXPECT_EQ(body["messages"][1]["content"], "2");
  EXPECT_EQ(body["messages"][2]["content"], request.prompt);
  for (const Json& m : body["messages"]) {
    for (const auto& item : m.items()) EXPECT_TRUE(recorded_message_keys.count(item.key()));
  }
}

TEST(ParseTest, NonStreamChat) {
  Json exchange = LoadRecording("07_chat_nonstream.json")["exchanges"][0];
  ASSERT_OK_AND_ASSIGN(ChatResult r,
                       ParseChatResponse(exchange["response"]["body_raw"].get<std::string>()));
  EXPECT_EQ(r.finish_reason, "stop");
  EXPECT_THAT(r.content, HasSubstr("Lexbutton uncertainty"));
  EXPECT_EQ(r.reasoning, "");
  ASSERT_TRUE(r.usage && r.timings);
  EXPECT_EQ(r.usage->completion_tokens, 25);
  EXPECT_EQ(r.usage->prompt_tokens, 31);
  EXPECT_EQ(r.timings->predicted_n, 25);
  EXPECT_DOUBLE_EQ(r.timings->predicted_ms, 23.282);
  EXPECT_EQ(r.system_fingerprint, "b0-unknown");
}

TEST(ParseTest, ReasoningIsKeptApartFromTheAnswer) {
  Json exchange = LoadRecording("21_think_deepseek_budget12288.json")["exchanges"][0];
  ASSERT_OK_AND_ASSIGN(ChatResult r,
                       ParseChatResponse(exchange["response"]["body_raw"].get<std::string>()));
  EXPECT_EQ(r.content, "");
  EXPECT_THAT(r.reasoning, HasSubstr("Lex api"));
  EXPECT_EQ(r.finish_reason, "length");
  Json budget = LoadRecording("22_think_budget_per_request.json")["exchanges"][1];
  ASSERT_OK_AND_ASSIGN(ChatResult s,
                       ParseChatStream(budget["response"]["body_raw"].get<std::string>()));
  EXPECT_FALSE(s.reasoning.empty());
  EXPECT_FALSE(s.content.empty());
}

// vLLM's reply (serving_chat.py, model_dump): from 0.11.1 `reasoning` and
// its deprecated copy `reasoning_content`, later `reasoning` alone.
TEST(ParseTest, VllmReasoningFieldsAreReadOnce) {
  const std::string both = R"({"id":"chatcmpl-1","object":"chat.completion","created":1,)"
      R"("model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"42",)"
      R"("refusal":null,"tool_calls":[],"reasoning":"think","reasoning_content":"think"},)"
      R"("logprobs":null,"finish_reason":"length","stop_reason":null}],)"
      R"("usage":{"prompt_tokens":20,"total_tokens":120,"completion_tokens":100,)"
      R"("prompt_tokens_details":null}})";
  ASSERT_OK_AND_ASSIGN(ChatResult r, ParseChatResponse(both));
  EXPECT_EQ(r.reasoning, "think");
  EXPECT_EQ(r.content, "42");
  EXPECT_EQ(r.finish_reason, "length");
  EXPECT_EQ(r.usage->completion_tokens, 100);
  EXPECT_FALSE(r.timings.has_value());
  std::string alone = both;
  const std::string copy = R"(,"reasoning_content":"think")";
  alone.erase(alone.find(copy), copy.size());
  ASSERT_OK_AND_ASSIGN(ChatResult s, ParseChatResponse(alone));
  EXPECT_EQ(s.reasoning, "think");
  // The stream: each delta carries the piece in both fields.
  ASSERT_OK_AND_ASSIGN(
      ChatResult t,
      ParseChatStream("data: {\"choices\":[{\"index\":0,\"delta\":{\"reasoning\":\"a\","
                      "\"reasoning_content\":\"a\"}}]}\n\n"
                      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"b\"},"
                      "\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n"));
  EXPECT_EQ(t.reasoning, "a");
  EXPECT_EQ(t.content, "b");
}

TEST(ParseTest, VllmModelsAndVersion) {
  ASSERT_OK_AND_ASSIGN(ModelInfo m, ParseModels(
      R"({"object":"list","data":[{"id":"gemma-nvfp4","object":"model","owned_by":"vllm",)"
      R"("root":"/models/g","parent":null,"max_model_len":32768}]})"));
  EXPECT_EQ(m.id, "gemma-nvfp4");
  EXPECT_EQ(m.n_ctx, 32768);
  ASSERT_OK_AND_ASSIGN(std::string v, ParseVersion(R"({"version":"0.10.1.1"})"));
  EXPECT_EQ(v, "0.10.1.1");
  EXPECT_FALSE(ParseVersion("{}").ok());
  EXPECT_TRUE(ParseHealth(200, "").ok());  // vLLM: an empty 200
  EXPECT_FALSE(ParseHealth(503, "").ok());
}

TEST(ParseTest, StreamWithUsageChunk) {
  Json exchange = LoadRecording("09_chat_stream_include_usage.json")["exchanges"][0];
  ASSERT_OK_AND_ASSIGN(ChatResult r,
                       ParseChatStream(exchange["response"]["body_raw"].get<std::string>()));
  EXPECT_EQ(r.finish_reason, "length");
  ASSERT_TRUE(r.usage && r.timings);
  EXPECT_EQ(r.usage->completion_tokens, 8);
  EXPECT_EQ(r.timings->cache_n, 30);
  EXPECT_THAT(r.content, HasSubstr("Lex"));
}

TEST(ParseTest, CutStreamAndErrorFrame) {
  EXPECT_THAT(ParseChatStream("data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"),
              StatusIs(absl::StatusCode::kUnavailable, ::testing::_));
  EXPECT_THAT(ParseChatStream("data: {\"error\":{\"code\":500,\"message\":\"boom\","
                              "\"type\":\"server_error\"}}\n\n"),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("boom")));
  EXPECT_THAT(ParseChatResponse("{\"choices\":[]}"), StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
  EXPECT_THAT(ParseChatResponse("not json"), StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
}

TEST(ParseTest, PropsGiveThePerSlotContextAndAFingerprint) {
  Json exchange = LoadRecording("03_props.json")["exchanges"][0];
  ASSERT_OK_AND_ASSIGN(ServerProps p,
                       ParseProps(exchange["response"]["body_raw"].get<std::string>()));
  EXPECT_EQ(p.n_ctx, 1024);
  EXPECT_EQ(p.total_slots, 2);
  EXPECT_EQ(p.build_info, "b0-unknown");
  EXPECT_THAT(p.Fingerprint(), HasSubstr("build=b0-unknown slots=2 n_ctx=1024 template="));
}

// The status code each recorded HTTP error must become, written out here
// (not read from the code under test): retry decisions hang on it.
absl::StatusCode ExpectedCode(int http_status, const std::string& type) {
  if (http_status == 400) {
    return type == "exceed_context_size_error" ? absl::StatusCode::kOutOfRange
                                               : absl::StatusCode::kInvalidArgument;
  }
  static const std::map<int, absl::StatusCode> kCodes = {
      {401, absl::StatusCode::kUnauthenticated}, {403, absl::StatusCode::kPermissionDenied},
      {404, absl::StatusCode::kNotFound},        {408, absl::StatusCode::kDeadlineExceeded},
      {429, absl::StatusCode::kResourceExhausted}, {500, absl::StatusCode::kInternal},
      {501, absl::StatusCode::kUnimplemented},   {503, absl::StatusCode::kUnavailable}};
  auto it = kCodes.find(http_status);
  if (it != kCodes.end()) return it->second;
  return http_status < 500 ? absl::StatusCode::kInvalidArgument : absl::StatusCode::kUnavailable;
}

// Dispatches one recorded exchange to its parser; returns what it checked.
std::string CheckExchange(const Json& exchange) {
  const Json& request = exchange["request"];
  const Json& response = exchange["response"];
  std::string path = StringOr(request, "path");
  int status = response.value("status", 0);
  std::string body = StringOr(response, "body_raw");
  Json sent = Json::parse(StringOr(request, "body"), nullptr, false);
  bool stream = sent.is_object() && sent.value("stream", false);
  if (status != 200) {
    absl::Status s = StatusFromHttp(status, body);
    EXPECT_FALSE(s.ok()) << path;
    Json parsed = Json::parse(body, nullptr, false);
    std::string type = parsed.is_object() && parsed.contains("error")
                           ? StringOr(parsed["error"], "type") : std::string();
    EXPECT_EQ(s.code(), ExpectedCode(status, type)) << path << " " << status << " " << type;
    return "error";
  }
  absl::Status parsed;
  if (path == "/health" || path == "/v1/health") parsed = ParseHealth(status, body);
  else if (path == "/props") parsed = ParseProps(body).status();
  else if (path == "/v1/models" || path == "/models") parsed = ParseModels(body).status();
  else if (path == "/slots") parsed = ParseSlots(body).status();
  else if (path == "/metrics") parsed = ParseMetrics(body).status();
  else if (path == "/v1/chat/completions") {
    parsed = stream ? ParseChatStream(body).status() : ParseChatResponse(body).status();
  } else if (path == "/completion") {
    parsed = stream ? ParseNativeCompletionStream(body).status()
                    : ParseNativeCompletion(body).status();
  } else if (path == "/v1/completions") parsed = ParseTextCompletion(body).status();
  else if (path == "/tokenize") parsed = ParseTokenizeCount(body).status();
  else if (path == "/apply-template") parsed = ParseApplyTemplate(body).status();
  else return "skipped";
  EXPECT_OK(parsed) << path << " " << body.substr(0, 200);
  return path;
}

void CollectExchanges(const Json& node, std::vector<const Json*>* out) {
  if (node.is_object()) {
    if (node.contains("request") && node.contains("response")) {
      out->push_back(&node);
      return;
    }
    for (const auto& item : node.items()) CollectExchanges(item.value(), out);
  } else if (node.is_array()) {
    for (const Json& item : node) CollectExchanges(item, out);
  }
}

TEST(ParseTest, EveryRecordedResponseParses) {
  std::set<std::string> checked;
  int exchanges = 0;
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(Recordings())) {
    if (entry.path().extension() != ".json") continue;
    ++files;
    Json file = LoadRecording(entry.path().filename().string());
    ASSERT_FALSE(file.is_discarded()) << entry.path();
    std::vector<const Json*> found;
    CollectExchanges(file, &found);
    for (const Json* exchange : found) {
      checked.insert(CheckExchange(*exchange));
      ++exchanges;
    }
  }
  EXPECT_GE(files, 30);
  EXPECT_GE(exchanges, 60);
  for (const char* path : {"/health", "/props", "/v1/models", "/slots", "/metrics",
                           "/v1/chat/completions", "/completion", "/v1/completions",
                           "/tokenize", "/apply-template", "error"}) {
    EXPECT_TRUE(checked.count(path)) << path;
  }
}

}  // namespace
}  // namespace cohort::worker::llama
