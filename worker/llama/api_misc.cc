// The non-chat endpoints: /props, /slots, /v1/models, /completion,
// /v1/completions, /metrics, /tokenize, /apply-template, /health.
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/ascii.h"
#include "absl/strings/strip.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "worker/llama/api.h"
#include "worker/llama/errors.h"
#include "worker/llama/wire_json.h"

namespace cohort::worker::llama {

using wire::Json;

std::string ServerProps::Fingerprint() const {
  if (server != "llama-server") {
    return absl::StrCat(server, " model=", model_id, " slots=", total_slots, " n_ctx=", n_ctx);
  }
  return absl::StrCat("llama-server build=", build_info, " slots=", total_slots,
                      " n_ctx=", n_ctx, " template=",
                      Sha256Hex(chat_template).substr(0, 16));
}

absl::StatusOr<ServerProps> ParseProps(absl::string_view body) {
  COHORT_ASSIGN_OR_RETURN(Json json, wire::Parse(body));
  ServerProps out;
  const Json* settings = wire::Find(json, "default_generation_settings");
  if (settings == nullptr || !wire::GetInt(*settings, "n_ctx", &out.n_ctx)) {
    return wire::Malformed("/props without default_generation_settings.n_ctx");
  }
  int64_t slots = 0;
  if (!wire::GetInt(json, "total_slots", &slots) || slots <= 0) {
    return wire::Malformed("/props without a positive total_slots");
  }
  out.total_slots = static_cast<int>(slots);
  wire::GetString(json, "build_info", &out.build_info);
  wire::GetString(json, "model_path", &out.model_path);
  wire::GetString(json, "chat_template", &out.chat_template);
  wire::GetBool(json, "is_sleeping", &out.is_sleeping);
  return out;
}

absl::StatusOr<std::vector<SlotState>> ParseSlots(absl::string_view body) {
  COHORT_ASSIGN_OR_RETURN(Json json, wire::Parse(body));
  if (!json.is_array()) return wire::Malformed("/slots is not an array");
  std::vector<SlotState> out;
  for (const Json& slot : json) {
    SlotState state;
    int64_t id = 0;
    if (!wire::GetInt(slot, "id", &id)) return wire::Malformed("/slots entry without id");
    state.id = static_cast<int>(id);
    wire::GetInt(slot, "n_ctx", &state.n_ctx);
    wire::GetBool(slot, "is_processing", &state.is_processing);
    out.push_back(state);
  }
  return out;
}

absl::StatusOr<ModelInfo> ParseModels(absl::string_view body) {
  COHORT_ASSIGN_OR_RETURN(Json json, wire::Parse(body));
  const Json* data = wire::Find(json, "data");
  if (data == nullptr || !data->is_array() || data->empty()) {
    return wire::Malformed("/v1/models without data");
  }
  ModelInfo out;
  const Json& model = (*data)[0];
  wire::GetString(model, "id", &out.id);
  if (const Json* meta = wire::Find(model, "meta")) {
    wire::GetInt(*meta, "n_ctx", &out.n_ctx);
    wire::GetInt(*meta, "n_ctx_train", &out.n_ctx_train);
    wire::GetInt(*meta, "n_params", &out.n_params);
  }
  if (out.n_ctx == 0) wire::GetInt(model, "max_model_len", &out.n_ctx);
  return out;
}

absl::StatusOr<std::string> ParseVersion(absl::string_view body) {
  COHORT_ASSIGN_OR_RETURN(Json json, wire::Parse(body));
  std::string version;
  if (!wire::GetString(json, "version", &version) || version.empty()) {
    return wire::Malformed("/version without a version");
  }
  return version;
}

namespace {

void ReadNativeFrame(const Json& json, NativeCompletion* out) {
  std::string text;
  if (wire::GetString(json, "content", &text)) out->content += text;
  wire::GetString(json, "stop_type", &out->stop_type);
  wire::GetBool(json, "truncated", &out->truncated);
  wire::GetInt(json, "tokens_predicted", &out->tokens_predicted);
  wire::GetInt(json, "tokens_evaluated", &out->tokens_evaluated);
  if (const Json* timings = wire::Find(json, "timings")) {
    out->timings = wire::ReadTimings(*timings);
  }
}

absl::Status ErrorInBody(const Json& json) {
  const Json* error = wire::Find(json, "error");
  if (error == nullptr) return absl::OkStatus();
  int64_t code = 500;
  wire::GetInt(*error, "code", &code);
  return StatusFromHttp(static_cast<int>(code), wire::Dump(json));
}

}  // namespace

absl::StatusOr<NativeCompletion> ParseNativeCompletion(absl::string_view body) {
  COHORT_ASSIGN_OR_RETURN(Json json, wire::Parse(body));
  COHORT_RETURN_IF_ERROR(ErrorInBody(json));
  bool stop = false;
  if (!wire::GetBool(json, "stop", &stop) || !stop) {
    return wire::Malformed("/completion reply without stop:true");
  }
  NativeCompletion out;
  ReadNativeFrame(json, &out);
  return out;
}

absl::StatusOr<NativeCompletion> ParseNativeCompletionStream(absl::string_view sse) {
  NativeCompletion out;
  bool stopped = false;
  for (absl::string_view line : absl::StrSplit(sse, '\n')) {
    line = absl::StripTrailingAsciiWhitespace(line);
    if (!absl::ConsumePrefix(&line, "data:")) continue;
    COHORT_ASSIGN_OR_RETURN(Json frame, wire::Parse(absl::StripLeadingAsciiWhitespace(line)));
    COHORT_RETURN_IF_ERROR(ErrorInBody(frame));
    ReadNativeFrame(frame, &out);
    wire::GetBool(frame, "stop", &stopped);
  }
  if (!stopped) return absl::UnavailableError("llama-server /completion stream cut short");
  return out;
}

absl::StatusOr<TextCompletion> ParseTextCompletion(absl::string_view body) {
  COHORT_ASSIGN_OR_RETURN(Json json, wire::Parse(body));
  COHORT_RETURN_IF_ERROR(ErrorInBody(json));
  const Json* choices = wire::Find(json, "choices");
  if (choices == nullptr || !choices->is_array() || choices->empty()) {
    return wire::Malformed("/v1/completions without choices");
  }
  TextCompletion out;
  if (!wire::GetString((*choices)[0], "text", &out.text) ||
      !wire::GetString((*choices)[0], "finish_reason", &out.finish_reason)) {
    return wire::Malformed("/v1/completions choice without text or finish_reason");
  }
  out.usage = wire::ReadUsage(json);
  return out;
}

absl::StatusOr<std::map<std::string, double>> ParseMetrics(absl::string_view text) {
  std::map<std::string, double> out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipWhitespace())) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    std::vector<absl::string_view> parts = absl::StrSplit(line, ' ', absl::SkipEmpty());
    double value = 0;
    // Counters are printed as integers or floats, possibly "nan"/"inf".
    if (parts.size() < 2 || !absl::SimpleAtod(parts[1], &value)) {
      return wire::Malformed(absl::StrCat("bad metrics line: ", line.substr(0, 80)));
    }
    out[std::string(parts[0])] = value;
  }
  return out;
}

std::string BuildTokenizeBody(absl::string_view content) {
  // add_special: the rendered template already holds BOS where it belongs;
  // parse_special so <|im_start|> counts as one token, as in a real request.
  return wire::Dump(Json{{"content", std::string(content)},
                         {"add_special", false},
                         {"parse_special", true}});
}

absl::StatusOr<int64_t> ParseTokenizeCount(absl::string_view body) {
  COHORT_ASSIGN_OR_RETURN(Json json, wire::Parse(body));
  const Json* tokens = wire::Find(json, "tokens");
  if (tokens == nullptr || !tokens->is_array()) return wire::Malformed("/tokenize without tokens");
  return static_cast<int64_t>(tokens->size());
}

std::string BuildApplyTemplateBody(const ChatRequest& request) {
  Json body = Json::object();
  body["messages"] = wire::ChatMessages(request);
  body["chat_template_kwargs"] = {{"enable_thinking", request.enable_thinking}};
  return wire::Dump(body);
}

absl::StatusOr<std::string> ParseApplyTemplate(absl::string_view body) {
  COHORT_ASSIGN_OR_RETURN(Json json, wire::Parse(body));
  std::string prompt;
  if (!wire::GetString(json, "prompt", &prompt)) {
    return wire::Malformed("/apply-template without prompt");
  }
  return prompt;
}

absl::Status ParseHealth(int http_status, absl::string_view body) {
  if (http_status != 200) return StatusFromHttp(http_status, body);
  // vLLM answers a bare 200 once its engine is up (it serves nothing while
  // it loads); llama-server answers {"status": "ok"}.
  if (absl::StripAsciiWhitespace(body).empty()) return absl::OkStatus();
  COHORT_ASSIGN_OR_RETURN(Json json, wire::Parse(body));
  std::string status;
  if (!wire::GetString(json, "status", &status) || status != "ok") {
    return absl::UnavailableError(absl::StrCat("llama-server /health: ", body.substr(0, 120)));
  }
  return absl::OkStatus();
}

}  // namespace cohort::worker::llama
