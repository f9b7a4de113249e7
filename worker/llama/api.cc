// Chat completions: request building and response parsing (non-stream and
// SSE). The other endpoints are in api_misc.cc.
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "worker/llama/api.h"
#include "worker/llama/errors.h"
#include "worker/llama/wire_json.h"

namespace cohort::worker::llama {

using wire::Json;

std::string BuildChatRequestBody(const ChatRequest& request) {
  Json body = Json::object();
  if (!request.model.empty()) body["model"] = request.model;
  body["messages"] = wire::ChatMessages(request);
  if (request.max_tokens > 0) body["max_tokens"] = request.max_tokens;
  body["temperature"] = request.sampler.temperature;
  body["top_k"] = request.sampler.top_k;
  body["top_p"] = request.sampler.top_p;
  body["min_p"] = request.sampler.min_p;
  body["seed"] = request.sampler.seed;
  if (!request.stop.empty()) body["stop"] = request.stop;
  // enable_thinking must be a JSON boolean: a string is a 400
  // (docs/llama-server.md §4).
  body["chat_template_kwargs"] = {{"enable_thinking", request.enable_thinking}};
  if (request.enable_thinking && request.reasoning_budget >= 0) {
    body["reasoning_budget_tokens"] = request.reasoning_budget;
  }
  body["stream"] = request.stream;
  if (request.stream) body["stream_options"] = {{"include_usage", true}};
  return wire::Dump(body);
}

namespace {

// The message/delta text fields; null reads as "" (the role chunk has
// "content": null). Any other non-string is refused: dropping it would score
// an answer the server did send as empty.
absl::Status AppendText(const Json& message, absl::string_view where, ChatResult* out) {
  // vLLM 0.11.1+ sends `reasoning` with `reasoning_content` as an equal
  // copy, later `reasoning` alone: one of them, never both.
  const Json* legacy = wire::Find(message, "reasoning_content");
  const bool has_legacy = legacy != nullptr && !legacy->is_null();
  for (const char* key : {"content", has_legacy ? "reasoning_content" : "reasoning"}) {
    const Json* value = wire::Find(message, key);
    if (value == nullptr || value->is_null()) continue;
    if (!value->is_string()) {
      return wire::Malformed(
          absl::StrCat(where, ".", key, " is ", value->type_name(), ", expected a string"));
    }
    (absl::string_view(key) == "content" ? out->content : out->reasoning) +=
        value->get_ref<const std::string&>();
  }
  return absl::OkStatus();
}

absl::Status ReadCommon(const Json& json, ChatResult* out) {
  if (const Json* error = wire::Find(json, "error")) {
    int64_t code = 500;
    if (error->is_object()) wire::GetInt(*error, "code", &code);
    return StatusFromHttp(static_cast<int>(code), wire::Dump(json));
  }
  wire::GetString(json, "model", &out->model);
  wire::GetString(json, "system_fingerprint", &out->system_fingerprint);
  if (std::optional<Usage> usage = wire::ReadUsage(json)) out->usage = usage;
  if (const Json* timings = wire::Find(json, "timings")) {
    out->timings = wire::ReadTimings(*timings);
  }
  return absl::OkStatus();
}

}  // namespace

namespace wire {

std::optional<Usage> ReadUsage(const Json& object) {
  const Json* usage = wire::Find(object, "usage");
  if (usage == nullptr || !usage->is_object()) return std::nullopt;
  Usage out;
  wire::GetInt(*usage, "prompt_tokens", &out.prompt_tokens);
  wire::GetInt(*usage, "completion_tokens", &out.completion_tokens);
  if (const Json* details = wire::Find(*usage, "prompt_tokens_details")) {
    wire::GetInt(*details, "cached_tokens", &out.cached_tokens);
  }
  return out;
}

Timings ReadTimings(const Json& timings) {
  Timings out;
  wire::GetInt(timings, "cache_n", &out.cache_n);
  wire::GetInt(timings, "prompt_n", &out.prompt_n);
  wire::GetDouble(timings, "prompt_ms", &out.prompt_ms);
  wire::GetInt(timings, "predicted_n", &out.predicted_n);
  wire::GetDouble(timings, "predicted_ms", &out.predicted_ms);
  return out;
}

}  // namespace wire

absl::StatusOr<ChatResult> ParseChatResponse(absl::string_view body) {
  COHORT_ASSIGN_OR_RETURN(Json json, wire::Parse(body));
  ChatResult out;
  COHORT_RETURN_IF_ERROR(ReadCommon(json, &out));
  const Json* choices = wire::Find(json, "choices");
  if (choices == nullptr || !choices->is_array() || choices->empty()) {
    return wire::Malformed("chat completion without choices");
  }
  const Json& choice = (*choices)[0];
  const Json* message = wire::Find(choice, "message");
  if (message == nullptr || !message->is_object()) {
    return wire::Malformed("chat completion choice without a message");
  }
  COHORT_RETURN_IF_ERROR(AppendText(*message, "choices[0].message", &out));
  if (!wire::GetString(choice, "finish_reason", &out.finish_reason)) {
    return wire::Malformed("chat completion without finish_reason");
  }
  return out;
}

absl::StatusOr<ChatResult> ParseChatStream(absl::string_view sse) {
  ChatResult out;
  bool done = false;
  // Frames are separated by a blank line; comment lines (":") are pings.
  for (absl::string_view line : absl::StrSplit(sse, '\n')) {
    line = absl::StripTrailingAsciiWhitespace(line);
    if (!absl::ConsumePrefix(&line, "data:")) continue;
    line = absl::StripLeadingAsciiWhitespace(line);
    if (line == "[DONE]") {
      done = true;
      break;
    }
    COHORT_ASSIGN_OR_RETURN(Json chunk, wire::Parse(line));
    COHORT_RETURN_IF_ERROR(ReadCommon(chunk, &out));
    const Json* choices = wire::Find(chunk, "choices");
    if (choices == nullptr || !choices->is_array() || choices->empty()) continue;
    const Json& choice = (*choices)[0];
    if (const Json* delta = wire::Find(choice, "delta")) {
      COHORT_RETURN_IF_ERROR(AppendText(*delta, "choices[0].delta", &out));
    }
    wire::GetString(choice, "finish_reason", &out.finish_reason);
  }
  if (out.finish_reason.empty()) {
    return absl::UnavailableError(done ? "llama-server stream ended without a finish reason"
                                       : "llama-server stream cut short");
  }
  return out;
}

}  // namespace cohort::worker::llama
