// File: api.h
//
// The llama-server wire format, behind plain structs: request bodies are built
// and response bodies parsed here, so no llama-server JSON leaves worker/llama.
// The shapes follow the recordings in tests/data/llama-server (llama.cpp
// 34af94cd; docs/llama-server.md): chat completions (non-stream and SSE), the
// native /completion, /v1/completions, /props, /slots, /v1/models, /metrics,
// /tokenize and /apply-template. Error bodies are mapped in errors.h.
//
//   ChatRequest request;
//   request.prompt = problem.prompt;
//   request.max_tokens = 16384;
//   std::string body = BuildChatRequestBody(request);
//   ... POST /v1/chat/completions ...
//   COHORT_ASSIGN_OR_RETURN(ChatResult result, ParseChatResponse(reply));
//
// Every parser is total: malformed or unexpected JSON is kInvalidArgument
// ("llama-server response: ..."), never an exception.
#ifndef COHORT_WORKER_LLAMA_API_H_
#define COHORT_WORKER_LLAMA_API_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cohort::worker::llama {

// The greedy protocol's sampler, sent explicitly on every request because the
// server's CLI defaults are not greedy (temp 0.8, top_k 40, min_p 0.05).
struct SamplerParams {
  double temperature = 0.0;
  int top_k = 0;
  double top_p = 1.0;
  double min_p = 0.0;
  int64_t seed = 1234;
};

// One chat completion: a single user message.
struct ChatRequest {
  // The served model's name, sent as "model" when set: llama-server ignores
  // it, an OpenAI-compatible server (vLLM) answers 404 for a name it does
  // not serve.
  std::string model;
  // (role, content) messages sent before the user prompt: few-shot turns.
  std::vector<std::pair<std::string, std::string>> history;
  std::string prompt;
  int max_tokens = 0;  // 0: not sent (server default, i.e. the slot limit)
  SamplerParams sampler;
  std::vector<std::string> stop;  // sent as given, only when non-empty
  // Sent as chat_template_kwargs.enable_thinking (a JSON boolean).
  bool enable_thinking = false;
  // Sent as reasoning_budget_tokens (the recorded per-request field) when
  // >= 0 and thinking is on. The served --reasoning-budget is the ceiling
  // that counts (docs/protocol.md T2); this records intent on the wire.
  int reasoning_budget = -1;
  bool stream = false;  // with stream_options.include_usage
};

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;  // reasoning + forced budget tokens + answer
  int64_t cached_tokens = 0;
};

// Server-side timings of one request (queue wait excluded).
struct Timings {
  int64_t cache_n = 0;
  int64_t prompt_n = 0;
  double prompt_ms = 0;
  int64_t predicted_n = 0;
  double predicted_ms = 0;
};

struct ChatResult {
  std::string content;    // the answer channel (message.content)
  // message.reasoning_content (llama-server; vLLM up to 0.11), else
  // message.reasoning (vLLM from 0.11.1, which sends both, equal, until it
  // dropped reasoning_content); "" when absent.
  std::string reasoning;
  std::string finish_reason;  // "stop", "length", "tool_calls"
  std::optional<Usage> usage;
  std::optional<Timings> timings;
  std::string model;
  std::string system_fingerprint;
};

std::string BuildChatRequestBody(const ChatRequest& request);

// A non-stream chat.completion body.
absl::StatusOr<ChatResult> ParseChatResponse(absl::string_view body);

// A whole SSE body of a streamed chat completion: deltas are joined, the
// finish reason, timings and usage taken from the chunks that carry them.
// An error frame (data: {"error":...}) becomes its mapped status; a stream
// that ends without a finish reason is kUnavailable (cut short).
absl::StatusOr<ChatResult> ParseChatStream(absl::string_view sse);

// GET /props.
struct ServerProps {
  int64_t n_ctx = 0;      // per slot (default_generation_settings.n_ctx)
  int total_slots = 0;
  std::string build_info;
  std::string model_path;
  std::string chat_template;
  bool is_sleeping = false;
  // "llama-server", or for an OpenAI-compatible server without /props
  // ("vllm 0.10.1.1", "openai-compatible") the model it serves.
  std::string server = "llama-server";
  std::string model_id;

  // Identifies the serving configuration for step keys and the resume
  // check: build, slots, per-slot context and a digest of the chat template.
  std::string Fingerprint() const;
};
absl::StatusOr<ServerProps> ParseProps(absl::string_view body);

// GET /slots.
struct SlotState {
  int id = 0;
  int64_t n_ctx = 0;
  bool is_processing = false;
};
absl::StatusOr<std::vector<SlotState>> ParseSlots(absl::string_view body);

// GET /v1/models: the first entry of the OpenAI `data` list.
struct ModelInfo {
  std::string id;
  int64_t n_ctx = 0;  // meta.n_ctx (llama-server, per slot), else max_model_len (vLLM)
  int64_t n_ctx_train = 0;
  int64_t n_params = 0;
};
absl::StatusOr<ModelInfo> ParseModels(absl::string_view body);

// GET /version of vLLM: {"version": "0.10.1.1"}; kInvalidArgument otherwise.
absl::StatusOr<std::string> ParseVersion(absl::string_view body);

// The native POST /completion, non-stream body or whole stream (per-token
// frames then a final stop:true frame; no [DONE]).
struct NativeCompletion {
  std::string content;
  std::string stop_type;  // "none" | "eos" | "limit" | "word"
  bool truncated = false;
  int64_t tokens_predicted = 0;
  int64_t tokens_evaluated = 0;
  std::optional<Timings> timings;
};
absl::StatusOr<NativeCompletion> ParseNativeCompletion(absl::string_view body);
absl::StatusOr<NativeCompletion> ParseNativeCompletionStream(absl::string_view sse);

// POST /v1/completions.
struct TextCompletion {
  std::string text;
  std::string finish_reason;
  std::optional<Usage> usage;
};
absl::StatusOr<TextCompletion> ParseTextCompletion(absl::string_view body);

// GET /metrics (Prometheus text): name (with the llamacpp: prefix) -> value.
absl::StatusOr<std::map<std::string, double>> ParseMetrics(absl::string_view text);

// POST /tokenize: the number of tokens (plain ids or {id, piece} objects).
absl::StatusOr<int64_t> ParseTokenizeCount(absl::string_view body);
std::string BuildTokenizeBody(absl::string_view content);

// POST /apply-template for one user message; the reply's rendered prompt.
std::string BuildApplyTemplateBody(const ChatRequest& request);
absl::StatusOr<std::string> ParseApplyTemplate(absl::string_view body);

// GET /health: OK for 200 {"status":"ok"}; otherwise the mapped error
// (503 "Loading model" is kUnavailable).
absl::Status ParseHealth(int http_status, absl::string_view body);

}  // namespace cohort::worker::llama

#endif  // COHORT_WORKER_LLAMA_API_H_
