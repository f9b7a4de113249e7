#include "worker/exec/score_rows.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/atomic_file.h"
#include "common/canonical_json.h"
#include "common/status_macros.h"

namespace cohort::worker {

absl::StatusOr<std::vector<eval::ProblemResult>> ParseScoreRows(const std::string& text,
                                                                const std::string& source) {
  std::vector<eval::ProblemResult> rows;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    if (line.empty()) continue;
    absl::StatusOr<eval::ProblemResult> row = eval::ResultFromJson(ParseJsonOrDiscarded(line));
    if (!row.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ":", line_number, ": ", row.status().message()));
    }
    rows.push_back(*std::move(row));
  }
  return rows;
}

absl::StatusOr<std::vector<eval::ProblemResult>> ReadScoreRows(const std::string& path) {
  COHORT_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  return ParseScoreRows(text, path);
}

}  // namespace cohort::worker
