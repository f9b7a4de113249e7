// File: parse_internal.h
//
// Internal to client/spec: the pieces of ParseSpecText, split by section.
#ifndef COHORT_CLIENT_SPEC_PARSE_INTERNAL_H_
#define COHORT_CLIENT_SPEC_PARSE_INTERNAL_H_

#include <map>
#include <string>

#include "absl/status/status.h"
#include "client/spec/spec.h"
#include "client/spec/yaml_reader.h"

namespace cohort::client::spec_internal {

// An empty base_dir marks a stored spec (ParseSpecText): nothing of it is
// read from local files, the dataset catalog or the environment.
inline bool IsStoredSpec(const std::string& base_dir) { return base_dir.empty(); }

// A path or digest (scalar), or {path, digest}. `kind` is the artifact kind.
absl::StatusOr<InputRef> ParseInput(const YNode& node, const std::string& kind,
                                    const std::string& base_dir);
// eval: {profile, server, suites}.
// `warnings` collects what will not run as written (Spec::warnings).
absl::Status ParseEval(const YNode& node, const std::string& base_dir,
                       EvalSpec* eval, std::vector<std::string>* warnings);
// gates: {probe: <suite>, condition: "accuracy >= 0.5" | {metric, op, value}}.
absl::StatusOr<GateSpec> ParseGate(const YNode& node, const EvalSpec& eval,
                                   const std::string& base_dir,
                                   std::vector<std::string>* warnings);
absl::StatusOr<Reference> ParseReference(const YNode& node,
                                         const std::string& base_dir);
// Variants from `grid` or `variants`, over the recipe defaults.
// `default_origins`: where the recipe defaults were written (Variant::origins).
absl::Status ParseVariants(const YNode& root, const nlohmann::json& defaults,
                           const std::map<std::string, Where>& default_origins,
                           Spec* spec);

}  // namespace cohort::client::spec_internal

#endif  // COHORT_CLIENT_SPEC_PARSE_INTERNAL_H_
