// File: params_schema.h
//
// The types of the params each step kind's executor reads, checked when a
// campaign is submitted: a step whose params have the wrong types
// (`{"bench": 1}`) is refused with INVALID_ARGUMENT naming the field, instead
// of reaching a worker that can only fail it. Fields are checked when
// present; whether a field is needed is the executor's to say (plans and
// tests name steps no worker runs). Unknown fields pass.
//
// Pure; thread-safe.
#ifndef COHORT_SERVER_JOBGRAPH_PARAMS_SCHEMA_H_
#define COHORT_SERVER_JOBGRAPH_PARAMS_SCHEMA_H_

#include "absl/status/status.h"
#include "nlohmann/json.hpp"
#include "server/jobgraph/step.h"

namespace cohort::server {

// kInvalidArgument "params.<field> must be <type>, not <type>".
absl::Status CheckParamTypes(StepKind kind, const nlohmann::json& params);

}  // namespace cohort::server

#endif  // COHORT_SERVER_JOBGRAPH_PARAMS_SCHEMA_H_
