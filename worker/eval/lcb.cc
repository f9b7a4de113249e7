#include "worker/eval/lcb.h"

#include <zlib.h>

#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/canonical_json.h"
#include "common/status_macros.h"
#include "worker/eval/code_exec.h"
#include "worker/eval/jsonl.h"
#include "worker/sandbox/toolchains.h"

namespace cohort::worker::eval {
namespace {

constexpr char kTemplate[] = "lcb_omk_instruct_v1";
constexpr char kExtractor[] = "lcb_last_fence";
constexpr double kTestTimeout = 6.0;

absl::Status BadPickle(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("private tests: refused pickle: ", why));
}

uint64_t LittleEndian(absl::string_view bytes) {
  uint64_t v = 0;
  for (size_t i = bytes.size(); i > 0; --i) v = (v << 8) | static_cast<uint8_t>(bytes[i - 1]);
  return v;
}

absl::StatusOr<std::string> Inflate(const std::string& in) {
  z_stream z{};
  if (inflateInit(&z) != Z_OK) return absl::InternalError("zlib init");
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  std::string out;
  char buffer[65536];
  int rc;
  do {
    z.next_out = reinterpret_cast<Bytef*>(buffer);
    z.avail_out = sizeof(buffer);
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buffer, sizeof(buffer) - z.avail_out);
  } while (rc == Z_OK);
  inflateEnd(&z);
  if (rc != Z_STREAM_END) return absl::InvalidArgumentError("private tests: bad zlib stream");
  return out;
}

absl::StatusOr<nlohmann::json> ParseTests(const std::string& text) {
  nlohmann::json tests = ParseJsonOrDiscarded(text);
  if (!tests.is_array()) return absl::InvalidArgumentError("tests: not a JSON list");
  for (const nlohmann::json& t : tests) {
    if (!t.is_object() || !t.contains("input") || !t.contains("output") ||
        !t["input"].is_string() || !t["output"].is_string()) {
      return absl::InvalidArgumentError("tests: each test needs string input and output");
    }
  }
  return tests;
}

// The ids `settings` selects (task_ids, first N), in list order; empty
// when the settings select everything.
absl::StatusOr<std::vector<std::string>> SelectedIds(const std::string& dataset,
                                                     const BenchSettings& settings) {
  if (settings.task_ids.empty()) return std::vector<std::string>{};
  std::filesystem::path file(settings.task_ids);
  if (file.is_relative()) file = std::filesystem::path(dataset).parent_path() / file;
  COHORT_ASSIGN_OR_RETURN(std::string text, ReadMaybeGzip(file.string()));
  nlohmann::json list = ParseJsonOrDiscarded(text);
  if (!list.is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(file.string(), ": not a JSON list of ids"));
  }
  std::vector<std::string> ids;
  std::set<std::string> seen;
  for (const nlohmann::json& id : list) {
    if (!id.is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(file.string(), ": ids must be strings"));
    }
    if (!seen.insert(id.get<std::string>()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(file.string(), ": id ", id.get<std::string>(), " listed twice"));
    }
    ids.push_back(id.get<std::string>());
  }
  if (settings.first > static_cast<int>(ids.size())) {
    return absl::InvalidArgumentError(absl::StrCat(file.string(), " has ", ids.size(),
                                                   " ids, fewer than first = ", settings.first));
  }
  if (settings.first > 0) ids.resize(settings.first);
  return ids;
}

// The problems named by `ids`, in that order; every id must be present.
absl::StatusOr<std::vector<Problem>> KeepIds(std::vector<Problem> all,
                                             const std::vector<std::string>& ids,
                                             const std::string& dataset,
                                             const BenchSettings& settings) {
  std::map<std::string, size_t> by_id;
  for (size_t i = 0; i < all.size(); ++i) by_id.emplace(all[i].id, i);
  std::vector<std::string> missing;
  std::vector<Problem> kept;
  for (const std::string& id : ids) {
    auto it = by_id.find(id);
    if (it == by_id.end()) {
      missing.push_back(id);
    } else {
      kept.push_back(all[it->second]);
    }
  }
  if (!missing.empty()) {
    std::vector<std::string> shown(missing.begin(),
                                   missing.begin() + std::min<size_t>(missing.size(), 5));
    return absl::NotFoundError(absl::StrCat(
        missing.size(), " of the ", ids.size(), " ids of ", settings.task_ids,
        " are not in ", dataset, " (e.g. ", absl::StrJoin(shown, ", "), ")"));
  }
  return kept;
}

}  // namespace

absl::StatusOr<std::string> DecodePickledString(absl::string_view p) {
  std::optional<std::string> value;
  size_t i = 0;
  auto take = [&](size_t n) -> std::optional<absl::string_view> {
    if (p.size() - i < n) return std::nullopt;
    absl::string_view s = p.substr(i, n);
    i += n;
    return s;
  };
  while (i < p.size()) {
    uint8_t op = static_cast<uint8_t>(p[i++]);
    size_t width = 0;
    switch (op) {
      case 0x80: if (!take(1)) return BadPickle("truncated PROTO"); continue;
      case 0x95: if (!take(8)) return BadPickle("truncated FRAME"); continue;
      case 0x94: continue;  // MEMOIZE
      case 'q': if (!take(1)) return BadPickle("truncated BINPUT"); continue;
      case 'r': if (!take(4)) return BadPickle("truncated LONG_BINPUT"); continue;
      case 0x8c: width = 1; break;  // SHORT_BINUNICODE
      case 'X': width = 4; break;   // BINUNICODE
      case 0x8d: width = 8; break;  // BINUNICODE8
      case '.':
        if (!value.has_value() || i != p.size()) return BadPickle("STOP without one str");
        return *value;
      default:
        return BadPickle(absl::StrCat("opcode 0x", absl::Hex(op)));
    }
    if (value.has_value()) return BadPickle("more than one object");
    std::optional<absl::string_view> len = take(width);
    if (!len) return BadPickle("truncated length");
    std::optional<absl::string_view> data = take(LittleEndian(*len));
    if (!data) return BadPickle("truncated string");
    value = std::string(*data);
  }
  return BadPickle("no STOP");
}

absl::StatusOr<nlohmann::json> DecodePrivateTests(const std::string& field) {
  if (absl::StartsWith(absl::StripLeadingAsciiWhitespace(field), "[")) return ParseTests(field);
  std::string compressed;
  if (!absl::Base64Unescape(field, &compressed)) {
    return absl::InvalidArgumentError("private tests: neither JSON nor base64");
  }
  COHORT_ASSIGN_OR_RETURN(std::string raw, Inflate(compressed));
  if (!raw.empty() && static_cast<uint8_t>(raw[0]) == 0x80) {
    COHORT_ASSIGN_OR_RETURN(raw, DecodePickledString(raw));
  }
  return ParseTests(raw);
}

std::string LcbExtractCode(absl::string_view completion, bool* found) {
  std::vector<absl::string_view> lines = absl::StrSplit(completion, '\n');
  std::vector<size_t> fences;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (absl::StrContains(lines[i], "```")) fences.push_back(i);
  }
  *found = fences.size() >= 2;
  if (!*found) return "";
  size_t a = fences[fences.size() - 2], b = fences.back();
  std::vector<absl::string_view> body(lines.begin() + a + 1, lines.begin() + b);
  return absl::StrJoin(body, "\n");
}

absl::StatusOr<std::vector<Problem>> LoadLcb(const std::string& path,
                                             const BenchSettings& settings) {
  COHORT_RETURN_IF_ERROR(CheckId("prompt_template", settings.prompt_template, {kTemplate}));
  COHORT_RETURN_IF_ERROR(CheckId("extractor", settings.extractor, {kExtractor}));
  COHORT_ASSIGN_OR_RETURN(std::vector<std::string> ids, SelectedIds(path, settings));
  COHORT_ASSIGN_OR_RETURN(std::vector<JsonLine> rows, ReadJsonLines(path));
  std::vector<Problem> problems;
  for (size_t i = 0; i < rows.size(); ++i) {
    const JsonLine& row = rows[i];
    auto where = [&](const absl::Status& s) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", row.line, ": ", s.message()));
    };
    Problem p;
    COHORT_ASSIGN_OR_RETURN(std::string platform, GetString(row, "platform", path));
    COHORT_ASSIGN_OR_RETURN(std::string qid, GetString(row, "question_id", path));
    COHORT_ASSIGN_OR_RETURN(std::string content, GetString(row, "question_content", path));
    COHORT_ASSIGN_OR_RETURN(std::string starter, GetString(row, "starter_code", path));
    COHORT_ASSIGN_OR_RETURN(std::string pub, GetString(row, "public_test_cases", path));
    COHORT_ASSIGN_OR_RETURN(std::string priv, GetString(row, "private_test_cases", path));
    absl::StatusOr<nlohmann::json> public_tests = ParseTests(pub);
    if (!public_tests.ok()) return where(public_tests.status());
    absl::StatusOr<nlohmann::json> private_tests =
        priv.empty() ? nlohmann::json::array() : DecodePrivateTests(priv);
    if (!private_tests.ok()) return where(private_tests.status());
    nlohmann::json metadata = nlohmann::json::parse(row.value.value("metadata", "{}"), nullptr,
                                                    false);
    p.id = absl::StrCat("lcb/", platform, "/", qid);
    p.index = static_cast<int>(i);
    p.prompt = absl::StrCat("Solve the following Python coding problem. Respond with ONLY the "
                            "completed Solution class in a Python markdown block, no "
                            "explanations.\n\n", content, "\n\n```python\n", starter, "\n```");
    nlohmann::json tests = *public_tests;
    for (const nlohmann::json& t : *private_tests) tests.push_back(t);
    p.meta["tests"] = tests;
    p.meta["n_public"] = public_tests->size();
    p.meta["fn_name"] = metadata.is_object() && metadata.contains("func_name")
                            ? metadata["func_name"] : nlohmann::json();
    p.meta["difficulty"] = row.value.value("difficulty", "");
    p.meta["contest_date"] = row.value.value("contest_date", "");
    problems.push_back(std::move(p));
  }
  if (ids.empty()) return problems;
  return KeepIds(std::move(problems), ids, path, settings);
}

Verdict ScoreLcb(const Problem& problem, absl::string_view completion, const BenchSettings&) {
  if (!sandbox::FindToolchain("python3").present) return ToolchainMissing("python3");
  Verdict v;
  bool found = false;
  v.extracted = LcbExtractCode(completion, &found);
  v.rule = found ? "last_two_fences" : "none";
  const nlohmann::json& tests = problem.meta["tests"];
  if (!found) {
    v.detail["status"] = "no_code";
    return v;
  }
  nlohmann::json task = {{"mode", "lcb"}, {"code", v.extracted}, {"tests", tests},
                         {"fn_name", problem.meta["fn_name"]}, {"timeout", kTestTimeout}};
  sandbox::Limits limits;
  // LCB joins the process at (timeout + 1) x tests + 5 s.
  double whole = (kTestTimeout + 1) * static_cast<double>(tests.size()) + 5;
  limits.cpu = absl::Seconds(whole);
  limits.wall = absl::Seconds(3 * whole + 30);
  limits.file_size = int64_t{256} << 20;
  HarnessRun run = RunHarness(task, "", limits, /*lcb=*/true);
  if (run.ok) {
    v.detail = run.result;
  } else {
    v.detail["status"] = "failed";
    v.detail["error_code"] = -1;
    v.detail["error_message"] = run.failure;
  }
  RecordRun(run.sandbox, "python3", &v.detail);
  v.passed = v.detail.value("status", "") == "passed";
  return v;
}

}  // namespace cohort::worker::eval
