// File: rpc.h
//
// Internal to client/cli and included only by its .cc files (gRPC headers
// are expensive): the authenticated connection to cohortd, status mapping,
// and the campaign model the result commands share (spec re-expanded from
// the campaign's spec_json, nodes matched to stored steps).
#ifndef COHORT_CLIENT_CLI_RPC_H_
#define COHORT_CLIENT_CLI_RPC_H_

#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "client/cli/commands.h"
#include "client/report/report.h"
#include "client/spec/expand.h"
#include "client/spec/spec.h"
#include "cohort/v1/coordinator.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace cohort::client {

// Not thread-safe; one per command.
class Connection {
 public:
  static absl::StatusOr<std::unique_ptr<Connection>> Open(const GlobalOptions& g);
  v1::Coordinator::Stub& stub() { return *stub_; }
  // A context with the bearer token and the command's deadline (or none).
  std::unique_ptr<grpc::ClientContext> Context(bool deadline = true) const;

 private:
  std::unique_ptr<v1::Coordinator::Stub> stub_;
  std::string token_;
  double timeout_seconds_ = 30;
};

absl::Status FromGrpc(const grpc::Status& status, const std::string& what);
std::string KindName(v1::StepKind kind);  // "dropmap", ...
v1::StepKind KindFromName(const std::string& name);
std::string StateName(v1::StepState state);  // "succeeded", ...
std::string CampaignStateName(v1::CampaignState state);
std::string ShortKey(const std::string& key);  // "sha256:" + 12 hex
// "on local-0 gpu 0,1": the worker holding a leased step and the cards its
// progress names ("" parts left out), as status and watch print it.
std::string Placement(const std::string& worker, const v1::StepProgress& progress);

// A campaign with its steps, and, when its spec_json is a cohort spec, the
// expanded graph and which step each node became.
struct CampaignModel {
  v1::Campaign campaign;
  std::optional<Spec> spec;
  Graph graph;
  std::map<std::string, std::string> node_to_key;
  // step key -> (model, suite) for score steps; a shared step maps to its
  // first model.
  std::map<std::string, std::pair<std::string, std::string>> score_steps;
  // step key -> its index in campaign.steps(), so a lookup per model of a
  // 10^5-step campaign is not a walk over every step.
  std::unordered_map<std::string, int> step_index;
  const v1::Step* FindStep(const std::string& key) const;
};
absl::StatusOr<CampaignModel> LoadCampaign(Connection& conn, const std::string& id);

// Score rows of a campaign, labelled with model and suite.
absl::StatusOr<std::vector<report::Row>> LoadRows(Connection& conn,
                                                  const CampaignModel& model);

struct SubmitFlags {
  bool dry_run = false;
  bool rerun = false;            // run steps again even where their key succeeded
  std::string idempotency_key;   // empty: a fresh one
};
struct Submission {
  Spec spec;  // inputs resolved
  Graph graph;
  v1::SubmitCampaignResponse response;
};
// Parses a spec file, checks it against the model and contribution data it
// names (CheckSpecAgainstInputs), hashes its local inputs, registers them
// (unless a dry run) and submits the expanded graph.
absl::StatusOr<Submission> SubmitSpecFile(const GlobalOptions& g, const std::string& file,
                                          const SubmitFlags& flags);

// Step key -> the digest of the step's output (Step.outputs, as GetCampaign
// with steps lists them), for the steps of `keys` that succeeded (a re-armed
// step's earlier output does not count).
std::map<std::string, std::string> StepOutputDigests(const v1::Campaign& campaign,
                                                     const std::set<std::string>& keys);

// Node id -> output digest of its step, for the given nodes of `model`.
std::map<std::string, std::string> ProducedDigests(const CampaignModel& model,
                                                   const std::set<std::string>& nodes);

// Writes `text` to `path` atomically, or to stdout when `path` is empty.
absl::Status Emit(const std::string& path, const std::string& text);

}  // namespace cohort::client

#endif  // COHORT_CLIENT_CLI_RPC_H_
