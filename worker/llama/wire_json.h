// File: wire_json.h
//
// Internal to worker/llama (never included from a public header): small
// exception-free accessors for llama-server JSON. Each returns false when
// the key is missing or has another type, leaving *out untouched.
#ifndef COHORT_WORKER_LLAMA_WIRE_JSON_H_
#define COHORT_WORKER_LLAMA_WIRE_JSON_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "worker/llama/api.h"

namespace cohort::worker::llama::wire {

using Json = nlohmann::json;

inline absl::Status Malformed(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("llama-server response: ", what));
}

// Parses without exceptions; kInvalidArgument for invalid JSON.
inline absl::StatusOr<Json> Parse(absl::string_view text) {
  Json json = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return Malformed(absl::StrCat("not valid JSON: ", text.substr(0, 120)));
  }
  return json;
}

// The request's "messages": its history turns, then the user prompt.
inline Json ChatMessages(const ChatRequest& request) {
  Json messages = Json::array();
  for (const auto& [role, content] : request.history) {
    messages.push_back({{"role", role}, {"content", content}});
  }
  messages.push_back({{"role", "user"}, {"content", request.prompt}});
  return messages;
}

inline const Json* Find(const Json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

inline bool GetString(const Json& object, const char* key, std::string* out) {
  const Json* value = Find(object, key);
  if (value == nullptr || !value->is_string()) return false;
  *out = value->get_ref<const std::string&>();
  return true;
}

inline bool GetInt(const Json& object, const char* key, int64_t* out) {
  const Json* value = Find(object, key);
  if (value == nullptr) return false;
  if (value->is_number_integer()) {
    *out = value->get<int64_t>();
  } else if (value->is_number_unsigned()) {
    *out = static_cast<int64_t>(value->get<uint64_t>());
  } else {
    return false;
  }
  return true;
}

inline bool GetDouble(const Json& object, const char* key, double* out) {
  const Json* value = Find(object, key);
  if (value == nullptr || !value->is_number()) return false;
  *out = value->get<double>();
  return true;
}

inline bool GetBool(const Json& object, const char* key, bool* out) {
  const Json* value = Find(object, key);
  if (value == nullptr || !value->is_boolean()) return false;
  *out = value->get<bool>();
  return true;
}

// Dump that cannot throw on invalid UTF-8 (prompts come from datasets).
inline std::string Dump(const Json& json) {
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// Shared by the parsers (api.cc).
Timings ReadTimings(const Json& timings);
std::optional<Usage> ReadUsage(const Json& object);

}  // namespace cohort::worker::llama::wire

#endif  // COHORT_WORKER_LLAMA_WIRE_JSON_H_
