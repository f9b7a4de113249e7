#include "worker/quant/tensor_type_map.h"

// llama-quantize matches patterns with std::regex, so this file does too.
// GCC 12 reports a false -Wmaybe-uninitialized inside libstdc++'s regex
// compiler (_NFA::_M_insert_subexpr_end) under -fsanitize=address; the
// warning is off for this file's regex code only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <regex>

#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace cohort::worker::quant {
namespace {

constexpr size_t kMaxRules = 256;
constexpr size_t kMaxPatternBytes = 256;

absl::Status BadEntry(const std::string& entry, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(
      "tensor_types entry '", absl::CHexEscape(entry.substr(0, 80)), "': ", why));
}

// std::regex throws on a bad pattern; nothing else here throws.
bool CompileRegex(const std::string& pattern, std::regex* out) {
  try {
    *out = std::regex(pattern);
    return true;
  } catch (const std::regex_error&) {
    return false;
  }
}

}  // namespace

std::string TensorTypeRule::ToArg() const { return absl::StrCat(pattern, "=", type->name); }

absl::StatusOr<std::vector<TensorTypeRule>> ParseTensorTypeMap(
    const std::vector<std::string>& entries) {
  if (entries.size() > kMaxRules) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor_types: ", entries.size(), " entries, at most ", kMaxRules));
  }
  std::vector<TensorTypeRule> rules;
  for (const std::string& entry : entries) {
    const size_t eq = entry.find('=');
    if (eq == std::string::npos) return BadEntry(entry, "not PATTERN=TYPE");
    TensorTypeRule rule;
    rule.pattern = absl::AsciiStrToLower(entry.substr(0, eq));
    if (rule.pattern.empty()) return BadEntry(entry, "the pattern is empty");
    if (rule.pattern.size() > kMaxPatternBytes) return BadEntry(entry, "the pattern is too long");
    for (char c : rule.pattern) {
      if (absl::ascii_iscntrl(static_cast<unsigned char>(c))) {
        return BadEntry(entry, "the pattern has a control character");
      }
    }
    std::regex compiled;
    if (!CompileRegex(rule.pattern, &compiled)) {
      return BadEntry(entry, "the pattern is not a regular expression");
    }
    rule.type = FindGgmlTypeByName(entry.substr(eq + 1));
    if (rule.type == nullptr || !rule.type->quantized) {
      return BadEntry(entry, "the type is not a quantized ggml type (q8_0, q6_K, q4_K, ...)");
    }
    rules.push_back(std::move(rule));
  }
  return rules;
}

absl::Status VerifyTensorTypes(const GgufContents& source, const GgufContents& quantized,
                               const std::vector<TensorTypeRule>& rules) {
  std::vector<std::regex> compiled(rules.size());
  for (size_t i = 0; i < rules.size(); ++i) {
    if (!CompileRegex(rules[i].pattern, &compiled[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor_types: '", rules[i].pattern, "' is not a regular expression"));
    }
  }
  std::map<std::string, uint32_t> source_types;
  for (const GgufTensorInfo& t : source.tensors) source_types[t.name] = t.type;
  std::vector<int> matched(rules.size(), 0);
  for (const GgufTensorInfo& t : quantized.tensors) {
    for (size_t i = 0; i < rules.size(); ++i) {
      if (!std::regex_search(t.name, compiled[i])) continue;
      ++matched[i];
      const bool as_asked = t.type == rules[i].type->id;
      auto was = source_types.find(t.name);
      const bool left_alone = was != source_types.end() && was->second == t.type;
      const bool fell_back = !t.dims.empty() && t.dims[0] % rules[i].type->block_size != 0;
      if (!as_asked && !left_alone && !fell_back) {
        return absl::FailedPreconditionError(absl::StrCat(
            quantized.file, ": tensor ", t.name, " is ", t.type_info->name, ", the map asked ",
            rules[i].type->name, " (", rules[i].ToArg(), ")"));
      }
      break;  // the first rule that matches decides
    }
  }
  for (size_t i = 0; i < rules.size(); ++i) {
    if (matched[i] == 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          quantized.file, ": tensor_types rule '", rules[i].ToArg(), "' set no tensor's type (no tensor name matches it before an earlier "
          "rule's does)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace cohort::worker::quant

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
