// File: profile.h
//
// Protocol profiles: every per-bench setting of an eval run (subset, thinking
// on/off, reasoning budget, max tokens, sampler, stop strings, prompt
// template and extractor ids) as data. Two profiles are built in, compiled
// from the JSON files in worker/eval/profiles/ (the files are the source of
// truth; the build embeds them, so the binary needs no source tree):
//   omk-card-2026-07  the card era of the omnimergekit protocol (f57c488)
//   omk-head-2026-08  the reference's settings at f6450b19
// Users may pass their own profile file in the same schema
// (docs/benches.md). Unknown keys are refused, so a typo never silently
// falls back to a default.
//
//   COHORT_ASSIGN_OR_RETURN(Profile p, LoadProfile("omk-card-2026-07"));
//   const BenchSettings* gsm = p.Find("gsm8k");
#ifndef COHORT_WORKER_EVAL_PROFILE_H_
#define COHORT_WORKER_EVAL_PROFILE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace cohort::worker::eval {

inline constexpr char kDefaultProfile[] = "omk-card-2026-07";

struct Sampler {
  double temperature = 0.0;
  double top_p = 1.0;
  int top_k = 0;
  double min_p = 0.0;
  int64_t seed = 1234;
};

struct BenchSettings {
  std::string bench;            // registry name, e.g. "gsm8k"
  int limit = 0;                // first N problems of the file; 0 = all
  bool thinking = false;        // server reasoning on (deepseek split)
  int reasoning_budget = 0;     // served --reasoning-budget; 0 when off
  int max_tokens = 0;           // per-request max_tokens (max_gen_toks)
  Sampler sampler;
  std::vector<std::string> stop;  // as sent (already cut to 4)
  std::string prompt_template;  // template id (docs/benches.md)
  std::string extractor;        // extractor id (docs/benches.md)
  int num_fewshot = 0;
  int64_t option_seed = 0;      // GPQA: seed of the stored option order
  // Tokens at or over which a problem counts as budget-saturated; 0 means
  // reasoning_budget when thinking, else max_tokens.
  int saturation_tokens = 0;
  // The largest share of problems (0..1) that may end in server errors
  // before `cohort-worker bench` fails; < 0 (absent): the default, 2%.
  double max_server_error_share = -1;
  std::string notes;
  // A JSON list of problem ids (a file; a relative path is resolved against
  // the dataset's folder): only those problems, in the list's order. Only
  // benches that select by id take it (lcb). `first` > 0 keeps the first N
  // ids of the list (LCB-medium-55 = the first 55 of the medium-100 list).
  std::string task_ids;
  int first = 0;
  // Not a profile field: the file few-shot exemplars are drawn from (GSM8K's
  // train split), given per run (`--fewshot`). Empty: train.jsonl beside
  // the dataset, if there is one.
  std::string fewshot_path;

  int SaturationThreshold() const;
};

struct Profile {
  std::string name;
  std::string description;
  std::map<std::string, BenchSettings> benches;
  nlohmann::json json;  // the profile as loaded
  std::string digest;   // CanonicalJsonSha256(json): part of step keys

  // nullptr when the profile has no settings for `bench`.
  const BenchSettings* Find(const std::string& bench) const;
};

// Names of the built-in profiles.
std::vector<std::string> BuiltinProfileNames();

// Parses a profile from JSON text; `source` names it in errors.
absl::StatusOr<Profile> ParseProfile(const std::string& text,
                                     const std::string& source);

// A built-in name, or else a path to a JSON profile file.
absl::StatusOr<Profile> LoadProfile(const std::string& name_or_path);

}  // namespace cohort::worker::eval

#endif  // COHORT_WORKER_EVAL_PROFILE_H_
