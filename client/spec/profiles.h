// File: profiles.h
//
// The eval protocol profiles cohort-worker has built in, so a spec can name
// one ("profile: omk-card-2026-07") and the CLI can still put the whole
// profile into step params (its digest belongs in every bench step key). The
// text is generated at configure time from worker/eval/profiles/*.json, the
// single source of truth.
#ifndef COHORT_CLIENT_SPEC_PROFILES_H_
#define COHORT_CLIENT_SPEC_PROFILES_H_

#include <optional>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace cohort::client {

// The profile an eval section without `profile:` runs: the seed card's
// protocol (the same default as cohort-worker bench's --profile).
inline constexpr char kDefaultProfileName[] = "omk-card-2026-07";

std::vector<std::string> BuiltinProfileNames();
// The parsed profile, or nullopt for an unknown name.
std::optional<nlohmann::json> BuiltinProfile(const std::string& name);

}  // namespace cohort::client

#endif  // COHORT_CLIENT_SPEC_PROFILES_H_
