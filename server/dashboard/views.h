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
  std::map<std::string, std::string> model_of_step;  // step key -> model
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

// The stages of a prune-and-eval chain in pipeline order.
const std::vector<std::string>& StageOrder();

// The tally TallyCampaign answers, from the steps of CampaignStepStates
// (the campaign page has them: one query fewer on 10^5 steps).
CampaignTally TallySteps(const std::vector<StepRecord>& steps);

nlohmann::json CampaignSummaryJson(const CampaignRecord& campaign, const CampaignTally& tally,
                                   absl::Time now);
// The campaign page: `steps` are all of its steps; the running ones and
// the failed ones are listed (up to `max_listed` each, counts beside; the
// steps they block are counted in the grid).
nlohmann::json CampaignDetailJson(const CampaignRecord& campaign, const CampaignTally& tally,
                                  const std::vector<StepRecord>& steps,
                                  const CampaignNames& names, absl::Time now,
                                  size_t max_listed = 500);
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
