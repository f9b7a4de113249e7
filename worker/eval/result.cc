#include "worker/eval/result.h"

#include <limits>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/json_fields.h"
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

absl::StatusOr<ProblemResult> ResultFromJson(const nlohmann::json& row) {
  // Every member but "id" may be absent or null; one present must have its
  // type.
  JsonFields f(row, "result row");
  COHORT_RETURN_IF_ERROR(f.CheckObject());
  COHORT_RETURN_IF_ERROR(f.Require("id"));
  ProblemResult r;
  COHORT_RETURN_IF_ERROR(f.String("id", &r.id));
  const std::pair<const char*, std::string*> strings[] = {
      {"prompt_digest", &r.prompt_digest}, {"completion", &r.completion},
      {"reasoning", &r.reasoning},         {"scored_channel", &r.scored_channel},
      {"finish_reason", &r.finish_reason}, {"extracted", &r.extracted},
      {"rule", &r.rule},                   {"scorer_version", &r.scorer_version},
      {"error", &r.error_message},         {"error_kind", &r.error_kind}};
  for (const auto& [key, field] : strings) {
    if (!f.IsNull(key)) COHORT_RETURN_IF_ERROR(f.String(key, field));
  }
  const std::pair<const char*, int64_t*> counts[] = {{"completion_chars", &r.completion_chars},
                                                     {"reasoning_chars", &r.reasoning_chars}};
  for (const auto& [key, field] : counts) {
    if (!f.IsNull(key)) COHORT_RETURN_IF_ERROR(f.Int(key, field));
  }
  const std::pair<const char*, std::optional<int64_t>*> tokens[] = {
      {"completion_tokens", &r.completion_tokens}, {"reasoning_tokens", &r.reasoning_tokens}};
  for (const auto& [key, field] : tokens) {
    if (f.IsNull(key)) continue;
    int64_t value = 0;
    COHORT_RETURN_IF_ERROR(f.Int(key, &value));
    *field = value;
  }
  const std::pair<const char*, bool*> flags[] = {{"passed", &r.passed},
                                                 {"at_budget", &r.at_budget}};
  for (const auto& [key, field] : flags) {
    if (!f.IsNull(key)) COHORT_RETURN_IF_ERROR(f.Bool(key, field));
  }
  if (!f.IsNull("index")) {
    int64_t index = 0;
    COHORT_RETURN_IF_ERROR(f.Int("index", &index));
    if (index < 0 || index > std::numeric_limits<int>::max()) {
      return absl::InvalidArgumentError(
          absl::StrCat("result row.index ", index, " is out of range"));
    }
    r.index = static_cast<int>(index);
  }
  if (!f.IsNull("detail")) {
    COHORT_RETURN_IF_ERROR(f.Child("detail").CheckObject());
    r.detail = row.at("detail");
  }
  if (row.contains("error") && r.error_kind.empty()) {
    // ResultToJson writes both or neither: an error with no kind would read
    // as an answer.
    return absl::InvalidArgumentError("result row: \"error\" without \"error_kind\"");
  }
  return r;
}

}  // namespace cohort::worker::eval
