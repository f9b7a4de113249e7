#include "worker/eval/lm_eval.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "worker/eval/csv.h"
#include "worker/eval/gsm8k.h"
#include "worker/eval/jsonl.h"
#include "worker/eval/py_regex.h"
#include "worker/eval/text_util.h"

namespace cohort::worker::eval {
namespace {

using OJson = nlohmann::ordered_json;

// google/IFEval's kwargs feature, in the dataset's column order: every
// instruction's kwargs object has all of them, null where unused.
constexpr const char* kIfevalKwargKeys[] = {
    "num_highlights", "relation", "num_words", "num_placeholders", "prompt_to_repeat",
    "num_bullets", "section_spliter", "num_sections", "capital_relation",
    "capital_frequency", "keywords", "num_paragraphs", "language", "let_relation",
    "letter", "let_frequency", "end_phrase", "forbidden_words", "keyword", "frequency",
    "num_sentences", "postscript_marker", "first_word", "nth_paragraph"};

// openai_humaneval's column order.
constexpr const char* kHumanEvalKeys[] = {"task_id", "prompt", "canonical_solution", "test",
                                          "entry_point"};

// Python's repr of a float: the shortest digits that round-trip, in fixed
// notation when the decimal exponent is in [-4, 16), else d.ddde+XX.
std::string PyFloatRepr(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  if (ec != std::errc()) return "0.0";
  std::string sci(buf, end);  // "-1.2345e+17"
  bool negative = sci[0] == '-';
  if (negative) sci.erase(0, 1);
  size_t e = sci.find('e');
  std::string digits = sci.substr(0, e);
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  int exponent = std::stoi(sci.substr(e + 1));
  std::string out;
  if (exponent >= -4 && exponent < 16) {
    if (exponent < 0) {
      out = "0." + std::string(-exponent - 1, '0') + digits;
    } else if (static_cast<int>(digits.size()) <= exponent + 1) {
      out = digits + std::string(exponent + 1 - digits.size(), '0') + ".0";
    } else {
      out = digits.substr(0, exponent + 1) + "." + digits.substr(exponent + 1);
    }
  } else {
    out = digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    out += absl::StrCat("e", exponent < 0 ? "-" : "+", std::abs(exponent) < 10 ? "0" : "",
                        std::abs(exponent));
  }
  return negative ? "-" + out : out;
}

void Dump(const OJson& v, bool indent, int depth, std::string* out) {
  std::string pad = indent ? "\n" + std::string(2 * (depth + 1), ' ') : "";
  std::string close_pad = indent ? "\n" + std::string(2 * depth, ' ') : "";
  const char* item_sep = indent ? "," : ", ";
  if (depth > 256) {  // never reached by dataset rows; keeps the stack bounded
    *out += "null";
    return;
  }
  switch (v.type()) {
    case OJson::value_t::object: {
      if (v.empty()) { *out += "{}"; return; }
      *out += "{";
      bool first = true;
      for (auto it = v.begin(); it != v.end(); ++it) {
        absl::StrAppend(out, first ? "" : item_sep, pad, PyJsonString(it.key()), ": ");
        Dump(it.value(), indent, depth + 1, out);
        first = false;
      }
      absl::StrAppend(out, close_pad, "}");
      return;
    }
    case OJson::value_t::array: {
      if (v.empty()) { *out += "[]"; return; }
      *out += "[";
      bool first = true;
      for (const OJson& item : v) {
        absl::StrAppend(out, first ? "" : item_sep, pad);
        Dump(item, indent, depth + 1, out);
        first = false;
      }
      absl::StrAppend(out, close_pad, "]");
      return;
    }
    case OJson::value_t::string: *out += PyJsonString(v.get_ref<const std::string&>()); return;
    case OJson::value_t::boolean: *out += v.get<bool>() ? "true" : "false"; return;
    case OJson::value_t::number_integer: *out += std::to_string(v.get<int64_t>()); return;
    case OJson::value_t::number_unsigned: *out += std::to_string(v.get<uint64_t>()); return;
    case OJson::value_t::number_float: *out += PyFloatRepr(v.get<double>()); return;
    default: *out += "null"; return;
  }
}

// The rows of the published file in order, keys as written.
absl::StatusOr<std::vector<OJson>> ReadRows(const std::string& path) {
  COHORT_ASSIGN_OR_RETURN(std::string text, ReadMaybeGzip(path));
  std::vector<OJson> rows;
  bool csv = path.size() > 4 && path.compare(path.size() - 4, 4, ".csv") == 0;
  if (csv) {
    COHORT_ASSIGN_OR_RETURN(std::vector<CsvRecord> records, ParseCsv(text, path));
    for (const CsvRecord& r : records) {
      OJson row = OJson::object();
      for (const auto& [k, v] : r.fields) row[k] = v;
      rows.push_back(std::move(row));
    }
    return rows;
  }
  int line = 0;
  for (absl::string_view piece : absl::StrSplit(text, '\n')) {
    ++line;
    if (piece.find_first_not_of(" \t\r") == absl::string_view::npos) continue;
    OJson row = OJson::parse(piece.begin(), piece.end(), nullptr, /*allow_exceptions=*/false);
    if (row.is_discarded() || !row.is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", line, ": not a JSON object"));
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

// The AI2 release row as allenai/ai2_arc has it.
OJson ArcAsHuggingFace(const OJson& row) {
  OJson out = OJson::object();
  out["id"] = row.value("id", OJson());
  OJson text = OJson::array(), label = OJson::array();
  const OJson* question = row.contains("question") ? &row["question"] : nullptr;
  if (question != nullptr && question->is_object()) {
    out["question"] = question->value("stem", OJson());
    if (question->contains("choices") && (*question)["choices"].is_array()) {
      for (const OJson& c : (*question)["choices"]) {
        text.push_back(c.is_object() ? c.value("text", OJson()) : OJson());
        label.push_back(c.is_object() ? c.value("label", OJson()) : OJson());
      }
    }
  } else {
    out["question"] = question != nullptr ? *question : OJson();
  }
  out["choices"] = {{"text", text}, {"label", label}};
  out["answerKey"] = row.value("answerKey", OJson());
  return out;
}

OJson HumanEvalAsHuggingFace(const OJson& row) {
  OJson out = OJson::object();
  for (const char* key : kHumanEvalKeys) {
    if (row.contains(key)) out[key] = row[key];
  }
  for (auto it = row.begin(); it != row.end(); ++it) {
    if (!out.contains(it.key())) out[it.key()] = it.value();
  }
  return out;
}

OJson IfevalAsHuggingFace(const OJson& row) {
  OJson out = row;
  if (!row.contains("kwargs") || !row["kwargs"].is_array()) return out;
  OJson kwargs = OJson::array();
  for (const OJson& given : row["kwargs"]) {
    OJson full = OJson::object();
    for (const char* key : kIfevalKwargKeys) {
      full[key] = given.is_object() && given.contains(key) ? given[key] : OJson();
    }
    kwargs.push_back(std::move(full));
  }
  out["kwargs"] = std::move(kwargs);
  return out;
}

std::string Text(const OJson& row, const char* key) {
  if (!row.contains(key)) return "";
  const OJson& v = row[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  return "";
}

// The task's doc_to_target.
std::string TargetOf(const std::string& bench, const OJson& doc, const Problem& problem) {
  if (bench == "gsm8k" || bench == "math500") return Text(doc, "answer");
  if (bench == "ifeval") return "0";
  if (bench == "humaneval" || bench == "humanevalplus") {
    return absl::StrCat(Text(doc, "test"), "\ncheck(", Text(doc, "entry_point"), ")");
  }
  if (bench == "aime2024") {
    for (auto it = doc.begin(); it != doc.end(); ++it) {
      std::string lower = it.key();
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (lower == "answer") return Text(doc, it.key().c_str());
    }
  }
  return problem.gold;
}

bool TaskMetricIsFloat(const std::string& metric, const std::string& task) {
  // lm-eval's exact_match metric is numpy float64; omk's process_results
  // (ARC, AIME) and minerva's math_verify return ints.
  if (metric == "pass@1") return true;
  return metric == "exact_match" && (task == "gsm8k" || task == "gpqa_diamond_cot_zeroshot");
}

}  // namespace

LmEvalTask LmEvalTaskOf(const std::string& bench) {
  if (bench == "gsm8k") {
    return {"gsm8k", "flexible-extract", {"strict-match", "flexible-extract"}, {"exact_match"},
            3.0, true};
  }
  if (bench == "arc_challenge") {
    return {"arc_challenge_full_chat", "none", {"none"}, {"exact_match"}, 0.0, true};
  }
  if (bench == "gpqa_diamond") {
    return {"gpqa_diamond_cot_zeroshot", "flexible-extract", {"flexible-extract"},
            {"exact_match"}, 2.2, true};
  }
  if (bench == "math500") {
    return {"minerva_math500", "none", {"none"}, {"math_verify"}, 3.0, true};
  }
  if (bench == "aime2024") return {"aime24_chat", "none", {"none"}, {"exact_match"}, 0.0, true};
  if (bench == "ifeval") {
    return {"ifeval", "none", {"none"},
            {"prompt_level_strict_acc", "inst_level_strict_acc", "prompt_level_loose_acc",
             "inst_level_loose_acc"},
            4.0, true};
  }
  if (bench == "humaneval") {
    return {"humaneval_chat", "extract_chat", {"extract_chat"}, {"pass@1"}, 1.0, true};
  }
  if (bench == "humanevalplus") {
    return {"humaneval_plus_chat", "extract_chat", {"extract_chat"}, {"pass@1"}, 1.0, true};
  }
  return {bench, "none", {"none"}, {"pass@1"}, 0.0, false};
}

absl::StatusOr<std::map<int, LmEvalDoc>> LoadLmEvalDocs(const BenchSpec& bench,
                                                        const std::string& path,
                                                        const BenchSettings& settings) {
  COHORT_ASSIGN_OR_RETURN(std::vector<Problem> problems, bench.load(path, settings));
  COHORT_ASSIGN_OR_RETURN(std::vector<OJson> rows, ReadRows(path));
  const std::string name = bench.name;
  std::map<int, LmEvalDoc> docs;
  for (const Problem& p : problems) {
    if (p.index < 0 || static_cast<size_t>(p.index) >= rows.size()) {
      return absl::InternalError(absl::StrCat(path, ": problem ", p.id, " has row ", p.index,
                                              " of ", rows.size()));
    }
    const OJson& row = rows[p.index];
    LmEvalDoc d;
    if (name == "arc_challenge") {
      d.doc = ArcAsHuggingFace(row);
    } else if (name == "humaneval" || name == "humanevalplus") {
      d.doc = HumanEvalAsHuggingFace(row);
    } else if (name == "ifeval") {
      d.doc = IfevalAsHuggingFace(row);
    } else {
      d.doc = row;
    }
    d.target = TargetOf(name, d.doc, p);
    d.arguments = LmEvalChatJson(p);
    d.prompt_hash = Sha256Hex(d.arguments);
    docs.emplace(p.index, std::move(d));
  }
  return docs;
}

OJson LmEvalGenKwargs(const BenchSettings& settings) {
  OJson gen = OJson::object();
  gen["until"] = settings.stop;
  gen["do_sample"] = false;
  gen["temperature"] = settings.sampler.temperature;
  gen["top_p"] = settings.sampler.top_p;
  gen["top_k"] = settings.sampler.top_k;
  gen["max_gen_toks"] = settings.max_tokens;
  return gen;
}

OJson LmEvalSample(const LmEvalTask& task, const std::string& filter, int doc_id,
                   const LmEvalDoc& doc, const BenchSettings& settings,
                   const LmEvalOutcome& outcome) {
  OJson filtered;
  if (filter == "flexible-extract" || filter == "strict-match") {
    filtered = OJson::array({outcome.extracted.empty() ? "[invalid]" : outcome.extracted});
  } else if (filter == "extract_chat") {
    filtered = OJson::array({OJson::array({outcome.extracted})});
  } else {
    filtered = OJson::array({outcome.response});
  }
  OJson s = OJson::object();
  s["doc_id"] = doc_id;
  s["doc"] = doc.doc;
  s["target"] = doc.target;
  s["arguments"] = {{"gen_args_0", {{"arg_0", OJson::array({doc.arguments})},
                                    {"arg_1", LmEvalGenKwargs(settings)}}}};
  s["resps"] = OJson::array({OJson::array({outcome.response})});
  s["filtered_resps"] = filtered;
  s["filter"] = filter;
  s["metrics"] = task.metrics;
  s["doc_hash"] = Sha256Hex(PyJsonDumps(doc.doc, /*indent=*/true));
  s["prompt_hash"] = doc.prompt_hash;
  s["target_hash"] = Sha256Hex(doc.target);
  for (const std::string& metric : task.metrics) {
    if (metric.rfind("inst_level_", 0) == 0 || metric.rfind("prompt_level_", 0) == 0) {
      const char* which = metric.find("strict") != std::string::npos ? "strict" : "loose";
      OJson list = OJson::array();
      bool all = true;
      if (outcome.detail.contains(which) && outcome.detail[which].is_array()) {
        for (const auto& b : outcome.detail[which]) {
          bool ok = b.is_boolean() && b.get<bool>();
          list.push_back(ok);
          all = all && ok;
        }
      }
      if (metric.rfind("inst_level_", 0) == 0) {
        s[metric] = list;
      } else {
        s[metric] = all && !list.empty();
      }
    } else if (TaskMetricIsFloat(metric, task.task)) {
      s[metric] = outcome.passed ? 1.0 : 0.0;
    } else {
      s[metric] = outcome.passed ? 1 : 0;
    }
  }
  return s;
}

std::vector<OJson> LmEvalSamples(const LmEvalTask& task, int doc_id, const LmEvalDoc& doc,
                                 const BenchSettings& settings, const LmEvalOutcome& outcome) {
  std::vector<OJson> out;
  for (const std::string& filter : task.filters) {
    if (filter == task.filter) {
      out.push_back(LmEvalSample(task, filter, doc_id, doc, settings, outcome));
    } else if (filter == "strict-match" && task.task == "gsm8k") {
      // lm-eval's gsm8k strict-match: the first "#### N", else "[invalid]".
      static const PyRegex kStrict("#### (\\-?[0-9\\.\\,]+)");
      std::vector<PyMatch> matches = kStrict.FindAll(outcome.response);
      LmEvalOutcome strict;
      strict.response = outcome.response;
      strict.extracted = matches.empty() ? "" : Strip(matches[0].groups[0].value_or(""));
      strict.passed = !strict.extracted.empty() &&
                      NormalizeGsm8k(strict.extracted) == NormalizeGsm8k(doc.target);
      out.push_back(LmEvalSample(task, filter, doc_id, doc, settings, strict));
    }
  }
  return out;
}

OJson LmEvalTaskResults(const LmEvalTask& task, const std::vector<OJson>& samples) {
  OJson out = OJson::object();
  out["alias"] = task.task;
  for (const std::string& filter : task.filters) {
  for (const std::string& metric : task.metrics) {
    std::vector<double> values;
    for (const OJson& s : samples) {
      if (!s.contains(metric) || s.value("filter", "") != filter) continue;
      const OJson& v = s[metric];
      if (v.is_array()) {  // IFEval's instruction level: every instruction counts
        for (const OJson& b : v) values.push_back(b.is_boolean() && b.get<bool>() ? 1 : 0);
      } else if (v.is_boolean()) {
        values.push_back(v.get<bool>() ? 1 : 0);
      } else if (v.is_number()) {
        values.push_back(v.get<double>());
      }
    }
    double mean = 0;
    for (double x : values) mean += x;
    mean = values.empty() ? 0 : mean / values.size();
    std::string key = absl::StrCat(metric, ",", filter);
    out[key] = mean;
    std::string stderr_key = absl::StrCat(metric, "_stderr,", filter);
    if (values.size() <= 1 || metric.rfind("inst_level_", 0) == 0) {
      out[stderr_key] = "N/A";
    } else {
      double ss = 0;
      for (double x : values) ss += (x - mean) * (x - mean);
      out[stderr_key] = std::sqrt(ss / (values.size() - 1)) / std::sqrt(values.size());
    }
  }
  }
  return out;
}

std::string LmEvalTaskHash(const std::vector<OJson>& samples) {
  std::string joined;
  for (const OJson& s : samples) {
    joined += s.value("doc_hash", "") + s.value("prompt_hash", "") + s.value("target_hash", "");
  }
  return Sha256Hex(joined);
}

std::string PyJsonDumps(const OJson& value, bool indent) {
  std::string out;
  Dump(value, indent, 0, &out);
  return out;
}

}  // namespace cohort::worker::eval
