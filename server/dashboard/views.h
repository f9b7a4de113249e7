// File: views.h
//
// Internal to server/dashboard: the JSON of each page from what the store
// answered (pure: no coordinator, no I/O), so its shape is tested apart
// from loading. Every text that came from a client, a worker or a model is
// a JSON string here; json.dump replaces invalid UTF-8.
#ifndef COHORT_SERVER_DASHBOARD_VIEWS_H_
#define COHORT_SERVER_DASHBOARD_VIEWS_H_

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "client/report/report.h"
#include "client/spec/match.h"
#include "nlohmann/json.hpp"
#include "server/store/coordinator_store.h"

namespace cohort::server::dashboard::internal {

// What stays true of a campaign once submitted: the names the pages put on
// its steps. Kept small (no graph, no spec): the dashboard caches it.
struct CampaignNames {
  // References that name an earlier campaign (their rows come from there).
  std::vector<client::Reference> earlier_references;
  std::vector<std::string> models;      // variants then references, in spec order
  std::vector<std::string> references;  // the Δ columns
  // step key -> model: filled by NameCampaign only, for the labels it works
  // out for a campaign whose steps have none (LabelsToStore).
  absl::flat_hash_map<std::string, std::string> model_of_step;
  // (model, suite) -> its score steps (one per shard)
  std::map<std::pair<std::string, std::string>, std::vector<std::string>> score_steps;
  std::vector<std::string> suites;  // in spec order

  // score_steps by suite (spec order), then model (spec order).
  std::vector<std::pair<std::pair<std::string, std::string>, std::vector<std::string>>>
  ScoreStepsInOrder() const;
};

// Names from the labels (nullopt: not a cohort spec, nothing named): a step
// belongs to the first model whose score or gate nodes reach it.
CampaignNames NameCampaign(std::optional<client::CampaignLabels> labels);

// Names from the spec's outline and the labels its client gave each score
// node, as cohortd stored them beside the steps: what NameCampaign gives for
// the same campaign without expanding its spec (7 s for 10^5 steps). A step
// two models share is named by the node the plan placed first.
CampaignNames NameFromStoredLabels(const client::SpecOutline& outline,
                                   const std::vector<StepLabel>& score_labels);

// The labels NameCampaign's names give the steps, to store for a campaign
// whose client sent none (so that the page's grid can count by model).
std::vector<StepLabel> LabelsToStore(const CampaignNames& names);

// The stages of a prune-and-eval chain in pipeline order.
const std::vector<std::string>& StageOrder();


nlohmann::json CampaignSummaryJson(const CampaignRecord& campaign, const CampaignTally& tally,
                                   absl::Time now);
// The campaign page: its steps counted by model, stage and state (`grid`),
// and the first of its running and failed steps (`running`, `failures`;
// their totals come from the grid; the steps failures block are counted
// there).
nlohmann::json CampaignDetailJson(const CampaignRecord& campaign, const CampaignTally& tally,
                                  const std::vector<GridCell>& grid,
                                  const std::vector<StepRecord>& running,
                                  const std::vector<StepRecord>& failures,
                                  const CampaignNames& names, absl::Time now);
nlohmann::json ProgressJson(const std::string& progress_json);
nlohmann::json WorkersJson(const std::vector<WorkerRecord>& workers,
                           const std::vector<StepRecord>& leased, absl::Time now,
                           absl::Duration lease_duration, absl::Duration forget_after);

// One watch-feed event as the page reads it ("type": campaign_submitted,
// campaign_finished, step_state, step_progress, worker_joined, worker_lost).
nlohmann::json EventJson(const EventRecord& event);

// A stored result row (ResultLengths) as the report's Row; `reasoning_chars`
// is the row's own, or its body's for rows stored before that column.
client::report::Row RowOf(const ResultRow& row, uint64_t reasoning_chars,
                          const std::string& model, const std::string& suite);

}  // namespace cohort::server::dashboard::internal

#endif  // COHORT_SERVER_DASHBOARD_VIEWS_H_
