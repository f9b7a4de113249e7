#include "common/vllm_options.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace cohort {
namespace {

using json = nlohmann::json;

enum class Kind { kCount, kWord, kFraction, kSwitch };

struct Setting {
  const char* key;
  Kind kind;
  int64_t min = 0;  // kCount's range
  int64_t max = 0;
  const char* flag = nullptr;  // an engine flag; null: the caller's
};

const Setting kSettings[] = {
    {"parallel", Kind::kCount, 1, 1024},
    {"max_model_len", Kind::kCount, 256, 10'000'000},
    {"reasoning_parser", Kind::kWord},
    {"dtype", Kind::kWord, 0, 0, "--dtype"},
    {"quantization", Kind::kWord, 0, 0, "--quantization"},
    {"kv_cache_dtype", Kind::kWord, 0, 0, "--kv-cache-dtype"},
    {"gpu_memory_utilization", Kind::kFraction, 0, 0, "--gpu-memory-utilization"},
    {"enforce_eager", Kind::kSwitch, 0, 0, "--enforce-eager"},
    // The step holds this many cards (CUDA_VISIBLE_DEVICES lists them all).
    {"tensor_parallel_size", Kind::kCount, 1, 16, "--tensor-parallel-size"},
};

// A name vLLM knows a value by (bfloat16, modelopt_fp4, fp8_e4m3, qwen3):
// never a flag of its own, never a path.
bool IsWord(const std::string& text) {
  if (text.empty() || text.size() > 64 || text[0] == '-') return false;
  for (char c : text) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') {
      return false;
    }
  }
  return true;
}

absl::Status CheckSetting(const Setting& s, const json& value) {
  const std::string where = absl::StrCat("vllm.", s.key, ": ");
  switch (s.kind) {
    case Kind::kCount:
      if (!value.is_number_integer() || value.get<int64_t>() < s.min ||
          value.get<int64_t>() > s.max) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, "an integer from ", s.min, " to ", s.max));
      }
      return absl::OkStatus();
    case Kind::kWord:
      if (!value.is_string() || !IsWord(value.get<std::string>())) {
        return absl::InvalidArgumentError(absl::StrCat(
            where, "a name of letters, digits, '_', '.' and '-', not starting with '-'"));
      }
      return absl::OkStatus();
    case Kind::kFraction:
      if (!value.is_number() || !(value.get<double>() > 0) || value.get<double>() > 1) {
        return absl::InvalidArgumentError(absl::StrCat(where, "a number above 0, at most 1"));
      }
      return absl::OkStatus();
    case Kind::kSwitch:
      if (!value.is_boolean()) return absl::InvalidArgumentError(where + "true or false");
      return absl::OkStatus();
  }
  return absl::OkStatus();
}

const Setting* Find(const std::string& key) {
  for (const Setting& s : kSettings) {
    if (key == s.key) return &s;
  }
  return nullptr;
}

}  // namespace

const std::vector<std::string>& VllmSettingKeys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> out;
    for (const Setting& s : kSettings) out.push_back(s.key);
    return out;
  }();
  return keys;
}

absl::Status CheckVllmSetting(const std::string& key, const json& value) {
  const Setting* s = Find(key);
  if (s == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "vllm.", key, ": not a setting cohort passes to vLLM (",
        absl::StrJoin(VllmSettingKeys(), ", "), ")"));
  }
  return CheckSetting(*s, value);
}

absl::Status CheckVllmSettings(const json& vllm) {
  if (!vllm.is_object()) return absl::InvalidArgumentError("vllm: expected an object");
  for (const auto& [key, value] : vllm.items()) {
    if (absl::Status checked = CheckVllmSetting(key, value); !checked.ok()) return checked;
  }
  if (!vllm.contains("parallel")) {
    return absl::InvalidArgumentError("vllm.parallel: the requests to keep in flight is required");
  }
  return absl::OkStatus();
}

int VllmGpus(const json& vllm) {
  if (!vllm.is_object() || !vllm.contains("tensor_parallel_size") ||
      !vllm["tensor_parallel_size"].is_number_integer()) {
    return 1;
  }
  return std::max(1, vllm["tensor_parallel_size"].get<int>());
}

std::vector<std::string> VllmEngineFlags(const json& vllm) {
  std::vector<std::string> flags;
  for (const Setting& s : kSettings) {
    if (s.flag == nullptr || !vllm.is_object() || !vllm.contains(s.key)) continue;
    const json& value = vllm[s.key];
    switch (s.kind) {
      case Kind::kSwitch:
        if (value.is_boolean() && value.get<bool>()) flags.push_back(s.flag);
        break;
      case Kind::kFraction:
      case Kind::kCount:
        if (value.is_number()) flags.push_back(absl::StrCat(s.flag, "=", value.dump()));
        break;
      default:
        if (value.is_string()) flags.push_back(absl::StrCat(s.flag, "=", value.get<std::string>()));
        break;
    }
  }
  return flags;
}

}  // namespace cohort
