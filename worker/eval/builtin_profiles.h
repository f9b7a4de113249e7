// File: builtin_profiles.h
//
// The JSON text of the built-in profiles. The definitions are generated at
// configure time from worker/eval/profiles/*.json (builtin_profiles.cc.in),
// so the JSON files stay the single source of truth.
#ifndef COHORT_WORKER_EVAL_BUILTIN_PROFILES_H_
#define COHORT_WORKER_EVAL_BUILTIN_PROFILES_H_

#include <vector>

namespace cohort::worker::eval {

struct BuiltinProfile {
  const char* name;
  const char* json;
};

const std::vector<BuiltinProfile>& BuiltinProfiles();

}  // namespace cohort::worker::eval

#endif  // COHORT_WORKER_EVAL_BUILTIN_PROFILES_H_
