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
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "client/spec/expand.h"
#include "client/spec/spec.h"

namespace cohort::client {

// A step as cohortd reports it, reduced to what identifies it.
struct StepView {
  std::string key;
  std::string kind;  // as GraphNode::kind
  std::string params_json;
  std::vector<std::pair<std::string, std::string>> digest_inputs;  // name, digest
  std::vector<std::string> depends_on;
  std::string node_id;  // the node cohortd says it was submitted as, if any
};

// node id -> step key for every node that has a step. Nodes without one are
// left out (a campaign submitted from a different spec).
absl::StatusOr<std::map<std::string, std::string>> MatchNodesToSteps(
    const Graph& graph, const std::vector<StepView>& steps);

// A campaign's steps under the names of its spec: the report, the CLI's
// status and cohortd's dashboard all read results and steps through this.
struct CampaignLabels {
  Spec spec;
  Graph graph;
  std::map<std::string, std::string> node_to_key;
  // step key -> (model, suite) for score steps; a shared step maps to its
  // first model.
  std::map<std::string, std::pair<std::string, std::string>> score_steps;
  // Graph nodes no step was found for (after structural matching, which
  // needs the steps' params, inputs and parents).
  size_t unmatched_nodes = 0;
};

// Parses `spec_json` as a stored spec (no file, catalog or environment is
// read: safe on what any client submitted), expands it and matches its
// nodes to `steps`: by cohortd's node ids, then, only while some node is
// left, by structure (a node that shares its step with another). nullopt
// when spec_json is not a cohort spec (campaigns submitted by other
// tools), so callers show steps without model names.
std::optional<CampaignLabels> LabelCampaign(const std::string& spec_json,
                                            const std::vector<StepView>& steps);

// The names a stored spec gives, read from its normalized JSON
// (NormalizedSpecJson) without parsing or expanding the whole spec: for
// cohortd's dashboard, whose steps carry their nodes' model and suite.
struct SpecOutline {
  std::vector<std::string> variants;  // in spec order
  std::vector<Reference> references;  // name, and campaign and model or the gguf
  std::vector<std::string> suites;    // the eval suites in spec order
  std::string probe_suite;            // the gate's, if any
};

// kInvalidArgument when `spec_json` is not a normalized cohort spec.
absl::StatusOr<SpecOutline> ReadSpecOutline(const std::string& spec_json);
// The same names of a parsed spec.
SpecOutline OutlineOf(const Spec& spec);

}  // namespace cohort::client

#endif  // COHORT_CLIENT_SPEC_MATCH_H_
