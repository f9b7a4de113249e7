#include "worker/eval/result.h"

#include <optional>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "worker/eval/text_util.h"

namespace cohort::worker::eval {

std::string ScoredText(const std::string& completion, const std::string& reasoning,
                       std::string* channel) {
  // Python truthiness, as the protocol's `content if content else reasoning`
  // decides: "   \n" is content (and scores as no answer), not a fallback.
  if (!completion.empty()) {
    *channel = "content";
    return completion;
  }
  if (!reasoning.empty()) {
    *channel = "reasoning";
    return reasoning;
  }
  *channel = "empty";
  return completion;
}

bool AtBudget(const ProblemResult& r, const BenchSettings& settings) {
  if (r.finish_reason == "length") return true;
  int64_t threshold = settings.SaturationThreshold();
  if (threshold <= 0) return false;
  if (settings.thinking && r.reasoning_tokens) return *r.reasoning_tokens >= threshold;
  return r.completion_tokens && *r.completion_tokens >= threshold;
}

nlohmann::json ResultToJson(const ProblemResult& r) {
  nlohmann::json j = {{"id", r.id},
                      {"index", r.index},
                      {"prompt_digest", r.prompt_digest},
                      {"completion", r.completion},
                      {"reasoning", r.reasoning},
                      {"scored_channel", r.scored_channel},
                      {"completion_chars", r.completion_chars},
                      {"reasoning_chars", r.reasoning_chars},
                      {"completion_tokens", nullptr},
                      {"reasoning_tokens", nullptr},
                      {"finish_reason", r.finish_reason},
                      {"extracted", r.extracted},
                      {"rule", r.rule},
                      {"passed", r.passed},
                      {"at_budget", r.at_budget},
                      {"scorer_version", r.scorer_version}};
  if (r.completion_tokens) j["completion_tokens"] = *r.completion_tokens;
  if (r.reasoning_tokens) j["reasoning_tokens"] = *r.reasoning_tokens;
  if (!r.detail.empty()) j["detail"] = r.detail;
  if (r.server_error()) {
    j["error"] = r.error_message;
    j["error_kind"] = r.error_kind;
  }
  return j;
}

std::string ResultToLine(const ProblemResult& r) {
  return ResultToJson(r).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

namespace {

// Reads `row[key]` into `*out` when present and not null; kInvalidArgument
// naming the key when it has another type.
template <typename T>
absl::Status ReadField(const nlohmann::json& row, const char* key, T* out) {
  auto it = row.find(key);
  if (it == row.end() || it->is_null()) return absl::OkStatus();
  const bool fits = std::is_same_v<T, std::string> ? it->is_string()
                    : std::is_same_v<T, bool>      ? it->is_boolean()
                                                   : it->is_number_integer();
  if (!fits) {
    return absl::InvalidArgumentError(
        absl::StrCat("result row: \"", key, "\" is ", it->type_name()));
  }
  *out = it->get<T>();
  return absl::OkStatus();
}

absl::Status ReadOptional(const nlohmann::json& row, const char* key,
                          std::optional<int64_t>* out) {
  auto it = row.find(key);
  if (it == row.end() || it->is_null()) return absl::OkStatus();
  int64_t value = 0;
  COHORT_RETURN_IF_ERROR(ReadField(row, key, &value));
  *out = value;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ProblemResult> ResultFromJson(const nlohmann::json& row) {
  if (!row.is_object()) return absl::InvalidArgumentError("result row: not an object");
  if (!row.contains("id")) return absl::InvalidArgumentError("result row: no \"id\"");
  ProblemResult r;
  COHORT_RETURN_IF_ERROR(ReadField(row, "id", &r.id));
  COHORT_RETURN_IF_ERROR(ReadField(row, "index", &r.index));
  COHORT_RETURN_IF_ERROR(ReadField(row, "prompt_digest", &r.prompt_digest));
  COHORT_RETURN_IF_ERROR(ReadField(row, "completion", &r.completion));
  COHORT_RETURN_IF_ERROR(ReadField(row, "reasoning", &r.reasoning));
  COHORT_RETURN_IF_ERROR(ReadField(row, "scored_channel", &r.scored_channel));
  COHORT_RETURN_IF_ERROR(ReadField(row, "completion_chars", &r.completion_chars));
  COHORT_RETURN_IF_ERROR(ReadField(row, "reasoning_chars", &r.reasoning_chars));
  COHORT_RETURN_IF_ERROR(ReadOptional(row, "completion_tokens", &r.completion_tokens));
  COHORT_RETURN_IF_ERROR(ReadOptional(row, "reasoning_tokens", &r.reasoning_tokens));
  COHORT_RETURN_IF_ERROR(ReadField(row, "finish_reason", &r.finish_reason));
  COHORT_RETURN_IF_ERROR(ReadField(row, "extracted", &r.extracted));
  COHORT_RETURN_IF_ERROR(ReadField(row, "rule", &r.rule));
  COHORT_RETURN_IF_ERROR(ReadField(row, "passed", &r.passed));
  COHORT_RETURN_IF_ERROR(ReadField(row, "at_budget", &r.at_budget));
  COHORT_RETURN_IF_ERROR(ReadField(row, "scorer_version", &r.scorer_version));
  COHORT_RETURN_IF_ERROR(ReadField(row, "error", &r.error_message));
  COHORT_RETURN_IF_ERROR(ReadField(row, "error_kind", &r.error_kind));
  if (auto detail = row.find("detail"); detail != row.end() && !detail->is_null()) {
    if (!detail->is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat("result row: \"detail\" is ", detail->type_name()));
    }
    r.detail = *detail;
  }
  if (row.contains("error") && r.error_kind.empty()) {
    // ResultToJson writes both or neither: an error with no kind would read
    // as an answer.
    return absl::InvalidArgumentError("result row: \"error\" without \"error_kind\"");
  }
  return r;
}

}  // namespace cohort::worker::eval
