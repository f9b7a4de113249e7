// File: match.h
//
// Finds which stored step each node of an expanded graph became. cohortd
// keys steps by content and does not return node ids, so a node is matched
// by what its key is made of: kind, canonical params, artifact inputs and the
// steps it depends on (matched parents first). Reports and watch use this to
// put step results under model and suite names.
#ifndef COHORT_CLIENT_SPEC_MATCH_H_
#define COHORT_CLIENT_SPEC_MATCH_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "client/spec/expand.h"

namespace cohort::client {

// A step as cohortd reports it, reduced to what identifies it.
struct StepView {
  std::string key;
  std::string kind;  // as GraphNode::kind
  std::string params_json;
  std::vector<std::pair<std::string, std::string>> digest_inputs;  // name, digest
  std::vector<std::string> depends_on;
};

// node id -> step key for every node that has a step. Nodes without one are
// left out (a campaign submitted from a different spec).
absl::StatusOr<std::map<std::string, std::string>> MatchNodesToSteps(
    const Graph& graph, const std::vector<StepView>& steps);

}  // namespace cohort::client

#endif  // COHORT_CLIENT_SPEC_MATCH_H_
