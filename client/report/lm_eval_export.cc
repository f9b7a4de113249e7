#include "client/report/lm_eval_export.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "worker/eval/bench.h"
#include "worker/eval/lm_eval.h"

namespace cohort::client::report {
namespace {

namespace eval = worker::eval;
using OJson = nlohmann::ordered_json;

struct SuiteDocs {
  eval::LmEvalTask task;
  std::map<int, eval::LmEvalDoc> docs;
};

absl::StatusOr<SuiteDocs> LoadSuiteDocs(const std::string& name, const LmEvalSuite& suite) {
  const eval::BenchSpec* bench = eval::FindBench(suite.bench);
  if (bench == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("suite ", name, ": unknown bench '", suite.bench, "'"));
  }
  if (!suite.dataset_digest.empty()) {
    absl::StatusOr<std::string> digest = Sha256File(suite.dataset_path);
    if (!digest.ok()) {
      return absl::NotFoundError(absl::StrCat("suite ", name, ": dataset ", suite.dataset_path,
                                              ": ", digest.status().message()));
    }
    if ("sha256:" + *digest != suite.dataset_digest) {
      return absl::FailedPreconditionError(absl::StrCat(
          "suite ", name, ": dataset ", suite.dataset_path, " is sha256:", *digest,
          ", not the campaign's ", suite.dataset_digest, " (the file changed since)"));
    }
  }
  SuiteDocs out;
  out.task = eval::LmEvalTaskOf(suite.bench);
  COHORT_ASSIGN_OR_RETURN(out.docs,
                          eval::LoadLmEvalDocs(*bench, suite.dataset_path, suite.settings));
  return out;
}

nlohmann::json ParseDetails(const Row& row) {
  nlohmann::json d = nlohmann::json::parse(row.details_json.empty() ? "{}" : row.details_json,
                                           nullptr, /*allow_exceptions=*/false);
  return d.is_object() ? d : nlohmann::json::object();
}

// Fix-A: the text that was scored (content, else the reasoning).
std::string ScoredText(const Row& row, const nlohmann::json& details) {
  auto it = details.find("scored_channel");
  if (it != details.end() && it->is_string() && it->get<std::string>() == "reasoning") {
    return row.reasoning;
  }
  return row.completion;
}

OJson CohortFields(const Row& row, const nlohmann::json& details) {
  OJson c = OJson::object();
  c["problem_id"] = row.problem_id;
  c["sample_index"] = row.sample;
  c["suite"] = row.suite;
  c["finish_reason"] = row.finish_reason;
  c["completion"] = row.completion;
  c["reasoning"] = row.reasoning;
  c["completion_tokens"] = row.completion_tokens;
  c["reasoning_tokens"] = row.reasoning_tokens;
  c["completion_chars"] = row.completion_chars;
  c["reasoning_chars"] = row.reasoning_chars;
  c["prompt_digest"] = row.prompt_digest;
  c["details"] = OJson::parse(details.dump());
  return c;
}

OJson TaskConfig(const std::string& task_key, const eval::LmEvalTask& task,
                 const LmEvalSuite& suite) {
  OJson c = OJson::object();
  c["task"] = task_key;
  c["dataset_path"] = suite.dataset_path;
  c["num_fewshot"] = suite.settings.num_fewshot;
  c["output_type"] = "generate_until";
  c["generation_kwargs"] = eval::LmEvalGenKwargs(suite.settings);
  OJson metrics = OJson::array();
  for (const std::string& m : task.metrics) {
    metrics.push_back({{"metric", m}, {"aggregation", "mean"}, {"higher_is_better", true}});
  }
  c["metric_list"] = metrics;
  c["filter_list"] = OJson::array();
  for (const std::string& f : task.filters) c["filter_list"].push_back({{"name", f}});
  c["metadata"] = {{"version", task.version},
                   {"prompt_template", suite.settings.prompt_template},
                   {"extractor", suite.settings.extractor}};
  return c;
}

struct ModelFiles {
  OJson results = OJson::object();
  OJson group_subtasks = OJson::object();
  OJson configs = OJson::object();
  OJson versions = OJson::object();
  OJson n_shot = OJson::object();
  OJson higher_is_better = OJson::object();
  OJson n_samples = OJson::object();
  OJson task_hashes = OJson::object();
  bool multiturn = false;
};

OJson ResultsJson(const std::string& model, const ModelFiles& m, const LmEvalRun& run) {
  OJson r = OJson::object();
  r["results"] = m.results;
  r["group_subtasks"] = m.group_subtasks;
  r["configs"] = m.configs;
  r["versions"] = m.versions;
  r["n-shot"] = m.n_shot;
  r["higher_is_better"] = m.higher_is_better;
  r["n-samples"] = m.n_samples;
  r["config"] = {{"model", "cohort"},
                 {"model_args", {{"campaign", run.campaign}, {"model", model}}},
                 {"profile", run.profile_name},
                 {"limit", nullptr}};
  r["git_hash"] = nullptr;
  r["date"] = run.date;
  r["task_hashes"] = m.task_hashes;
  r["model_source"] = "cohort";
  r["model_name"] = model;
  r["model_name_sanitized"] = SafeFileName(model);
  r["system_instruction"] = nullptr;
  r["system_instruction_sha"] = nullptr;
  r["fewshot_as_multiturn"] = m.multiturn;
  r["chat_template"] = nullptr;
  r["chat_template_sha"] = nullptr;
  return r;
}

// lm-eval task name per suite of one model: the task's own name, or the
// suite's when two suites of the model run the same task.
std::map<std::string, std::string> TaskKeys(const std::set<std::string>& suite_names,
                                            const std::map<std::string, LmEvalSuite>& suites) {
  std::map<std::string, int> uses;
  for (const std::string& s : suite_names) ++uses[eval::LmEvalTaskOf(suites.at(s).bench).task];
  std::map<std::string, std::string> keys;
  for (const std::string& s : suite_names) {
    std::string task = eval::LmEvalTaskOf(suites.at(s).bench).task;
    keys[s] = uses[task] > 1 ? SafeFileName(s) : task;
  }
  return keys;
}

}  // namespace

std::string SafeFileName(std::string s) {
  for (char& c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) {
      c = '_';
    }
  }
  if (s.empty() || s == "." || s == "..") s = "_" + s;
  return s;
}

absl::StatusOr<LmEvalExport> BuildLmEvalExport(const std::vector<Row>& rows,
                                               const std::map<std::string, LmEvalSuite>& suites,
                                               const LmEvalRun& run) {
  // model -> suite -> rows, in first-seen model order.
  std::vector<std::string> models;
  std::map<std::string, std::map<std::string, std::vector<const Row*>>> grouped;
  for (const Row& row : rows) {
    if (!suites.count(row.suite)) {
      return absl::NotFoundError(absl::StrCat("suite '", row.suite, "' is not in the campaign's spec"));
    }
    if (!grouped.count(row.model)) models.push_back(row.model);
    grouped[row.model][row.suite].push_back(&row);
  }
  std::map<std::string, SuiteDocs> docs;
  LmEvalExport out;
  for (const std::string& model : models) {
    ModelFiles files;
    std::set<std::string> suite_names;
    for (const auto& [suite, unused] : grouped[model]) suite_names.insert(suite);
    std::map<std::string, std::string> task_keys = TaskKeys(suite_names, suites);
    for (const auto& [suite_name, suite_rows] : grouped[model]) {
      const LmEvalSuite& suite = suites.at(suite_name);
      if (!docs.count(suite_name)) {
        COHORT_ASSIGN_OR_RETURN(SuiteDocs loaded, LoadSuiteDocs(suite_name, suite));
        docs.emplace(suite_name, std::move(loaded));
      }
      const SuiteDocs& sd = docs.at(suite_name);
      std::vector<std::pair<int, OJson>> samples;
      int stale = 0;
      for (const Row* row : suite_rows) {
        nlohmann::json details = ParseDetails(*row);
        int index = details.contains("index") && details["index"].is_number_integer()
                        ? details["index"].get<int>() : -1;
        auto doc = sd.docs.find(index);
        if (doc == sd.docs.end()) {
          return absl::FailedPreconditionError(absl::StrCat(
              model, " ", suite_name, ": problem ", row->problem_id, " (row ", index,
              ") is not in ", suite.dataset_path));
        }
        if (doc->second.prompt_hash != row->prompt_digest) ++stale;
        eval::LmEvalOutcome outcome;
        outcome.response = ScoredText(*row, details);
        outcome.extracted = row->extracted_answer;
        outcome.passed = row->verdict == Verdict::kPass;
        if (details.contains("detail") && details["detail"].is_object()) {
          outcome.detail = details["detail"];
        }
        for (OJson& sample :
             eval::LmEvalSamples(sd.task, index, doc->second, suite.settings, outcome)) {
          sample["cohort"] = CohortFields(*row, details);
          samples.emplace_back(index, std::move(sample));
        }
      }
      // lm-eval's order: every document of the first filter, then the next.
      auto filter_rank = [&](const OJson& s) {
        const auto& f = sd.task.filters;
        return std::find(f.begin(), f.end(), s.value("filter", "")) - f.begin();
      };
      std::stable_sort(samples.begin(), samples.end(), [&](const auto& a, const auto& b) {
        auto ra = filter_rank(a.second), rb = filter_rank(b.second);
        return ra != rb ? ra < rb : a.first < b.first;
      });
      std::vector<OJson> ordered;
      std::string lines;
      for (auto& [index, sample] : samples) {
        absl::StrAppend(&lines, eval::PyJsonDumps(sample, /*indent=*/false), "\n");
        ordered.push_back(std::move(sample));
      }
      const std::string& key = task_keys[suite_name];
      out.files.push_back({absl::StrCat(SafeFileName(model), "/samples_", key, "_", run.date_id,
                                        ".jsonl"),
                           lines});
      if (stale > 0) {
        out.warnings.push_back(absl::StrCat(
            model, " ", suite_name, ": ", stale, " of ", suite_rows.size(),
            " rows were generated from another request than the dataset and profile give now "
            "(prompt digest differs); their arguments show today's request"));
      }
      files.results[key] = eval::LmEvalTaskResults(sd.task, ordered);
      files.group_subtasks[key] = OJson::array();
      files.configs[key] = TaskConfig(key, sd.task, suite);
      files.versions[key] = sd.task.version;
      files.n_shot[key] = suite.settings.num_fewshot;
      OJson better = OJson::object();
      for (const std::string& m : sd.task.metrics) better[m] = true;
      files.higher_is_better[key] = better;
      files.n_samples[key] = {{"original", sd.docs.size()}, {"effective", suite_rows.size()}};
      files.task_hashes[key] = eval::LmEvalTaskHash(ordered);
      files.multiturn = files.multiturn || suite.settings.prompt_template.find("multiturn") !=
                                               std::string::npos;
    }
    out.files.push_back({absl::StrCat(SafeFileName(model), "/results_", run.date_id, ".json"),
                         eval::PyJsonDumps(ResultsJson(model, files, run), true) + "\n"});
  }
  return out;
}

}  // namespace cohort::client::report
