#include "worker/eval/profile.h"

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/atomic_file.h"
#include "common/canonical_json.h"
#include "common/status_macros.h"
#include "worker/eval/builtin_profiles.h"

namespace cohort::worker::eval {
namespace {

absl::Status Bad(const std::string& where, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", what));
}

// Refuses keys outside `allowed`, so typos surface instead of defaulting.
absl::Status CheckKeys(const nlohmann::json& object,
                       const std::set<std::string>& allowed,
                       const std::string& where) {
  for (auto it = object.begin(); it != object.end(); ++it) {
    if (allowed.count(it.key()) == 0) {
      return Bad(where, absl::StrCat("unknown key '", it.key(), "' (allowed: ",
                                     absl::StrJoin(allowed, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

template <typename T>
absl::Status ReadNumber(const nlohmann::json& object, const char* key, T* out,
                        const std::string& where) {
  auto it = object.find(key);
  if (it == object.end()) return absl::OkStatus();
  if (!it->is_number()) return Bad(where, absl::StrCat("'", key, "' must be a number"));
  if (std::is_integral<T>::value && !it->is_number_integer()) {
    return Bad(where, absl::StrCat("'", key, "' must be an integer"));
  }
  *out = it->get<T>();
  return absl::OkStatus();
}

absl::Status ReadText(const nlohmann::json& object, const char* key,
                      std::string* out, const std::string& where) {
  auto it = object.find(key);
  if (it == object.end()) return absl::OkStatus();
  if (!it->is_string()) return Bad(where, absl::StrCat("'", key, "' must be a string"));
  *out = it->get<std::string>();
  return absl::OkStatus();
}

absl::Status ParseSampler(const nlohmann::json& object, Sampler* sampler,
                          const std::string& where) {
  if (!object.is_object()) return Bad(where, "'sampler' must be an object");
  COHORT_RETURN_IF_ERROR(CheckKeys(
      object, {"temperature", "top_p", "top_k", "min_p", "seed"}, where));
  COHORT_RETURN_IF_ERROR(ReadNumber(object, "temperature", &sampler->temperature, where));
  COHORT_RETURN_IF_ERROR(ReadNumber(object, "top_p", &sampler->top_p, where));
  COHORT_RETURN_IF_ERROR(ReadNumber(object, "top_k", &sampler->top_k, where));
  COHORT_RETURN_IF_ERROR(ReadNumber(object, "min_p", &sampler->min_p, where));
  return ReadNumber(object, "seed", &sampler->seed, where);
}

absl::Status ParseStop(const nlohmann::json& object, BenchSettings* bench,
                       const std::string& where) {
  auto it = object.find("stop");
  if (it == object.end()) return absl::OkStatus();
  if (!it->is_array()) return Bad(where, "'stop' must be an array of strings");
  for (const nlohmann::json& s : *it) {
    if (!s.is_string()) return Bad(where, "'stop' must be an array of strings");
    bench->stop.push_back(s.get<std::string>());
  }
  return absl::OkStatus();
}

absl::StatusOr<BenchSettings> ParseBench(const std::string& name,
                                         const nlohmann::json& object,
                                         const std::string& where) {
  if (!object.is_object()) return Bad(where, "bench settings must be an object");
  COHORT_RETURN_IF_ERROR(CheckKeys(
      object,
      {"limit", "thinking", "reasoning_budget", "max_tokens", "sampler", "stop",
       "prompt_template", "extractor", "num_fewshot", "option_seed",
       "saturation_tokens", "max_server_error_share", "notes", "task_ids", "first"},
      where));
  BenchSettings bench;
  bench.bench = name;
  COHORT_RETURN_IF_ERROR(ReadNumber(object, "limit", &bench.limit, where));
  COHORT_RETURN_IF_ERROR(ReadNumber(object, "reasoning_budget", &bench.reasoning_budget, where));
  COHORT_RETURN_IF_ERROR(ReadNumber(object, "max_tokens", &bench.max_tokens, where));
  COHORT_RETURN_IF_ERROR(ReadNumber(object, "num_fewshot", &bench.num_fewshot, where));
  COHORT_RETURN_IF_ERROR(ReadNumber(object, "option_seed", &bench.option_seed, where));
  COHORT_RETURN_IF_ERROR(ReadNumber(object, "saturation_tokens", &bench.saturation_tokens, where));
  COHORT_RETURN_IF_ERROR(
      ReadNumber(object, "max_server_error_share", &bench.max_server_error_share, where));
  if (object.contains("max_server_error_share") &&
      !(bench.max_server_error_share >= 0 && bench.max_server_error_share <= 1)) {
    return Bad(where, "'max_server_error_share' must be between 0 and 1");
  }
  COHORT_RETURN_IF_ERROR(ReadText(object, "prompt_template", &bench.prompt_template, where));
  COHORT_RETURN_IF_ERROR(ReadText(object, "extractor", &bench.extractor, where));
  COHORT_RETURN_IF_ERROR(ReadText(object, "notes", &bench.notes, where));
  COHORT_RETURN_IF_ERROR(ReadText(object, "task_ids", &bench.task_ids, where));
  COHORT_RETURN_IF_ERROR(ReadNumber(object, "first", &bench.first, where));
  if (!bench.task_ids.empty() && name != "lcb") {
    return Bad(where, "'task_ids' selects problems of the lcb bench only");
  }
  if (bench.first < 0 || (bench.first > 0 && bench.task_ids.empty())) {
    return Bad(where, "'first' must be >= 0 and needs 'task_ids'");
  }
  COHORT_RETURN_IF_ERROR(ParseStop(object, &bench, where));
  if (auto it = object.find("thinking"); it != object.end()) {
    if (!it->is_boolean()) return Bad(where, "'thinking' must be true or false");
    bench.thinking = it->get<bool>();
  }
  if (auto it = object.find("sampler"); it != object.end()) {
    COHORT_RETURN_IF_ERROR(ParseSampler(*it, &bench.sampler, where + ".sampler"));
  }
  if (bench.limit < 0 || bench.max_tokens <= 0 || bench.reasoning_budget < 0 ||
      bench.num_fewshot < 0 || bench.saturation_tokens < 0) {
    return Bad(where, "limit, reasoning_budget, num_fewshot and saturation_tokens "
                      "must be >= 0 and max_tokens > 0");
  }
  if (bench.thinking != (bench.reasoning_budget > 0)) {
    return Bad(where, "reasoning_budget must be > 0 exactly when thinking is on");
  }
  if (bench.prompt_template.empty() || bench.extractor.empty()) {
    return Bad(where, "'prompt_template' and 'extractor' are required");
  }
  return bench;
}

}  // namespace

int BenchSettings::SaturationThreshold() const {
  if (saturation_tokens > 0) return saturation_tokens;
  return thinking ? reasoning_budget : max_tokens;
}

const BenchSettings* Profile::Find(const std::string& bench) const {
  auto it = benches.find(bench);
  return it == benches.end() ? nullptr : &it->second;
}

std::vector<std::string> BuiltinProfileNames() {
  std::vector<std::string> names;
  for (const BuiltinProfile& p : BuiltinProfiles()) names.push_back(p.name);
  return names;
}

absl::StatusOr<Profile> ParseProfile(const std::string& text,
                                     const std::string& source) {
  COHORT_ASSIGN_OR_RETURN(nlohmann::json json, ParseJson(text, source));
  if (!json.is_object()) return Bad(source, "a profile must be a JSON object");
  COHORT_RETURN_IF_ERROR(
      CheckKeys(json, {"name", "description", "source", "benches"}, source));
  Profile profile;
  COHORT_RETURN_IF_ERROR(ReadText(json, "name", &profile.name, source));
  COHORT_RETURN_IF_ERROR(ReadText(json, "description", &profile.description, source));
  if (profile.name.empty()) return Bad(source, "'name' is required");
  auto benches = json.find("benches");
  if (benches == json.end() || !benches->is_object() || benches->empty()) {
    return Bad(source, "'benches' must be a non-empty object");
  }
  for (auto it = benches->begin(); it != benches->end(); ++it) {
    COHORT_ASSIGN_OR_RETURN(
        BenchSettings bench,
        ParseBench(it.key(), it.value(), absl::StrCat(source, ": benches.", it.key())));
    profile.benches.emplace(it.key(), std::move(bench));
  }
  COHORT_ASSIGN_OR_RETURN(profile.digest, CanonicalJsonSha256(json));
  profile.json = std::move(json);
  return profile;
}

absl::StatusOr<Profile> LoadProfile(const std::string& name_or_path) {
  for (const BuiltinProfile& p : BuiltinProfiles()) {
    if (name_or_path == p.name) {
      return ParseProfile(p.json, absl::StrCat("built-in profile ", p.name));
    }
  }
  absl::StatusOr<std::string> text = ReadFileToString(name_or_path);
  if (!text.ok()) {
    return absl::NotFoundError(absl::StrCat(
        "profile '", name_or_path, "' is neither a built-in profile (",
        absl::StrJoin(BuiltinProfileNames(), ", "), ") nor a readable file"));
  }
  return ParseProfile(*text, name_or_path);
}

}  // namespace cohort::worker::eval
