#include "worker/eval/ifeval.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "common/status_macros.h"
#include "worker/eval/ifeval_checkers.h"
#include "worker/eval/jsonl.h"
#include "worker/eval/langdetect.h"
#include "worker/eval/text_util.h"

namespace cohort::worker::eval {
namespace {

absl::StatusOr<Problem> ParseIfevalRow(const JsonLine& row, const std::string& path,
                                       int index) {
  auto bad = [&](const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat(path, ":", row.line, ": ", what));
  };
  COHORT_ASSIGN_OR_RETURN(std::string prompt, GetString(row, "prompt", path));
  auto ids = row.value.find("instruction_id_list");
  auto kwargs = row.value.find("kwargs");
  if (ids == row.value.end() || !ids->is_array() || kwargs == row.value.end() ||
      !kwargs->is_array() || kwargs->size() != ids->size()) {
    return bad("needs 'instruction_id_list' and a 'kwargs' list of the same length");
  }
  for (size_t i = 0; i < ids->size(); ++i) {
    if (!(*ids)[i].is_string()) return bad("instruction ids must be strings");
    absl::Status s = ValidateIfevalInstruction((*ids)[i].get<std::string>(), (*kwargs)[i]);
    if (!s.ok()) return bad(std::string(s.message()));
  }
  Problem p;
  p.index = index;
  auto key = row.value.find("key");
  p.id = key != row.value.end() ? ScalarToString(*key) : "";
  if (p.id.empty()) p.id = std::to_string(index);
  p.prompt = prompt;
  p.gold = "";
  p.meta["instruction_id_list"] = *ids;
  p.meta["kwargs"] = *kwargs;
  return p;
}

std::string JoinLines(const std::vector<std::string>& lines, size_t begin, size_t end) {
  if (begin >= end) return "";
  return absl::StrJoin(lines.begin() + begin, lines.begin() + end, "\n");
}

}  // namespace

absl::StatusOr<std::vector<Problem>> LoadIfeval(const std::string& path,
                                                const BenchSettings& settings) {
  COHORT_RETURN_IF_ERROR(CheckId("prompt_template", settings.prompt_template, {"ifeval_raw_v1"}));
  COHORT_RETURN_IF_ERROR(CheckId("extractor", settings.extractor, {"ifeval_v1"}));
  // The language checks are langdetect's verdicts: without its data they
  // could only guess, so the bench does not run.
  COHORT_RETURN_IF_ERROR(LangDetector::Default().status());
  COHORT_ASSIGN_OR_RETURN(std::vector<JsonLine> rows, ReadJsonLines(path));
  std::vector<Problem> problems;
  for (const JsonLine& row : rows) {
    COHORT_ASSIGN_OR_RETURN(
        Problem p, ParseIfevalRow(row, path, static_cast<int>(problems.size())));
    problems.push_back(std::move(p));
  }
  return problems;
}

std::vector<std::string> IfevalLooseVariants(absl::string_view response) {
  std::vector<std::string> lines = SplitOn(response, "\n");
  std::string remove_first = Strip(JoinLines(lines, 1, lines.size()));
  std::string remove_last = Strip(JoinLines(lines, 0, lines.size() - 1));
  std::string remove_both = Strip(JoinLines(lines, 1, lines.size() - 1));
  auto no_stars = [](const std::string& s) { return absl::StrReplaceAll(s, {{"*", ""}}); };
  std::string original(response);
  return {original,     no_stars(original),    remove_first,
          remove_last,  remove_both,           no_stars(remove_first),
          no_stars(remove_last), no_stars(remove_both)};
}

Verdict ScoreIfeval(const Problem& problem, absl::string_view completion,
                    const BenchSettings& /*settings*/) {
  Verdict v;
  v.rule = "ifeval";
  const nlohmann::json& ids = problem.meta.value("instruction_id_list", nlohmann::json::array());
  const nlohmann::json& kwargs = problem.meta.value("kwargs", nlohmann::json::array());
  std::vector<std::string> variants = IfevalLooseVariants(completion);
  bool all_strict = true;
  nlohmann::json strict = nlohmann::json::array();
  nlohmann::json loose = nlohmann::json::array();
  for (size_t i = 0; i < ids.size() && i < kwargs.size(); ++i) {
    if (!ids[i].is_string()) continue;
    const std::string id = ids[i].get<std::string>();
    bool s = !Strip(completion).empty() && FollowsIfevalInstruction(id, kwargs[i], completion);
    bool l = false;
    for (const std::string& variant : variants) {
      if (!Strip(variant).empty() && FollowsIfevalInstruction(id, kwargs[i], variant)) {
        l = true;
        break;
      }
    }
    strict.push_back(s);
    loose.push_back(l);
    all_strict = all_strict && s;
  }
  v.passed = all_strict;
  v.extracted = "";
  v.detail["instructions"] = ids;
  v.detail["strict"] = strict;
  v.detail["loose"] = loose;
  return v;
}

}  // namespace cohort::worker::eval
