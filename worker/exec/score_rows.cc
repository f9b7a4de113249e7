#include "worker/exec/score_rows.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/atomic_file.h"
#include "common/canonical_json.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace cohort::worker {
namespace {

using json = nlohmann::json;

uint64_t Count(const json& row, const char* key) {
  auto it = row.find(key);
  if (it == row.end() || !it->is_number()) return 0;
  double v = it->get<double>();
  return v > 0 ? static_cast<uint64_t>(v) : 0;
}

std::string Text(const json& row, const char* key) {
  auto it = row.find(key);
  if (it == row.end() || it->is_null()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

}  // namespace

absl::StatusOr<std::vector<TaskResultRow>> ParseScoreRows(const std::string& text,
                                                          const std::string& source) {
  std::vector<TaskResultRow> rows;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    if (line.empty()) continue;
    json row = ParseJsonOrDiscarded(line);
    if (!row.is_object() || !row.contains("id")) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ":", line_number, ": not a scored problem row"));
    }
    TaskResultRow r;
    r.problem_id = Text(row, "id");
    bool passed = row.value("passed", false);
    r.verdict = row.contains("error") && !row["error"].is_null() ? 3 : (passed ? 1 : 2);
    r.prompt_digest = Text(row, "prompt_digest");
    r.completion = Text(row, "completion");
    r.reasoning = Text(row, "reasoning");
    r.completion_chars = Count(row, "completion_chars");
    r.reasoning_chars = Count(row, "reasoning_chars");
    r.completion_tokens = Count(row, "completion_tokens");
    r.reasoning_tokens = Count(row, "reasoning_tokens");
    r.finish_reason = Text(row, "finish_reason");
    r.extracted_answer = Text(row, "extracted");
    r.scorer_version = Text(row, "scorer_version");
    r.json = std::string(line);
    rows.push_back(std::move(r));
  }
  return rows;
}

absl::StatusOr<std::vector<TaskResultRow>> ReadScoreRows(const std::string& path) {
  COHORT_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  return ParseScoreRows(text, path);
}

}  // namespace cohort::worker
