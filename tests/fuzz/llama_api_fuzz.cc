// libFuzzer target: every llama-server reply parser (worker/llama/api*.cc):
// chat completions (JSON and SSE), native completions, props, slots, models,
// metrics, tokenize, apply-template, health.
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "worker/llama/api.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace llama = cohort::worker::llama;
  absl::string_view body(reinterpret_cast<const char*>(data), size);
  llama::ParseChatResponse(body).IgnoreError();
  llama::ParseChatStream(body).IgnoreError();
  llama::ParseNativeCompletion(body).IgnoreError();
  llama::ParseNativeCompletionStream(body).IgnoreError();
  llama::ParseTextCompletion(body).IgnoreError();
  llama::ParseProps(body).IgnoreError();
  llama::ParseSlots(body).IgnoreError();
  llama::ParseModels(body).IgnoreError();
  llama::ParseMetrics(body).IgnoreError();
  llama::ParseTokenizeCount(body).IgnoreError();
  llama::ParseApplyTemplate(body).IgnoreError();
  llama::ParseHealth(size > 0 ? 200 + data[0] % 400 : 200, body).IgnoreError();
  return 0;
}
