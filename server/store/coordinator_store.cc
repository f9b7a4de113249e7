// CoordinatorStore: opening, shared helpers and the step state machine.
#include "server/store/coordinator_store.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/random.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "server/store/schema.h"
#include "server/store/store_internal.h"

namespace cohort::server {

using json = nlohmann::json;

std::string RandomId(const char* prefix) {
  return absl::StrCat(prefix, SecureRandomHex(8));
}

// Only what differs from "no requirement" is written: most steps ask for
// nothing, and their rows stay short ("{}").
std::string RequirementsToJson(const Requirements& req) {
  json j = json::object();
  if (req.gpus != 0) j["gpus"] = req.gpus;
  if (req.gpu_memory_bytes != 0) j["gpu_memory_bytes"] = req.gpu_memory_bytes;
  if (req.disk_bytes != 0) j["disk_bytes"] = req.disk_bytes;
  if (req.memory_bytes != 0) j["memory_bytes"] = req.memory_bytes;
  if (!req.labels.empty()) j["labels"] = req.labels;
  if (!req.tools.empty()) j["tools"] = req.tools;
  return j.dump();
}

Requirements RequirementsFromJson(const std::string& text) {
  Requirements req;
  if (text == "{}") return req;  // skip the parse: ReadStep runs per step
  json j = json::parse(text, nullptr, false);
  if (!j.is_object()) return req;
  req.gpus = j.value("gpus", 0u);
  req.gpu_memory_bytes = j.value("gpu_memory_bytes", uint64_t{0});
  req.disk_bytes = j.value("disk_bytes", uint64_t{0});
  req.memory_bytes = j.value("memory_bytes", uint64_t{0});
  req.labels = j.value("labels", std::vector<std::string>{});
  req.tools = j.value("tools", std::vector<std::string>{});
  return req;
}

absl::StatusOr<std::unique_ptr<CoordinatorStore>> CoordinatorStore::Open(
    const std::string& path, const DatabaseOptions& options) {
  // A 10^5-step submit writes ~60 MB of log; checkpointing it inline would
  // double the time before the client hears back.
  DatabaseOptions with_background_checkpoint = options;
  with_background_checkpoint.checkpoint = Checkpoint::kBackground;
  COHORT_ASSIGN_OR_RETURN(std::unique_ptr<Database> db,
                          Database::Open(path, with_background_checkpoint));
  COHORT_RETURN_IF_ERROR(Migrate(*db));
  // SQLite's default page cache is 2 MB: a graph of 10^5 steps (and its
  // indexes) then lives in the OS cache and every lookup pays a pread.
  // 256 MB is a ceiling, not a reservation.
  COHORT_RETURN_IF_ERROR(db->Execute("PRAGMA cache_size=-262144"));
  std::unique_ptr<CoordinatorStore> store(new CoordinatorStore(std::move(db)));
  COHORT_RETURN_IF_ERROR(store->step_index_.RegisterSqlFunction(*store->db_));
  COHORT_RETURN_IF_ERROR(store->step_index_.Load(*store->db_));
  return store;
}

absl::Status CoordinatorStore::AppendEvent(EventType type,
                                           const std::string& campaign_id,
                                           const std::string& step_key,
                                           StepState state,
                                           const std::string& worker_id,
                                           const std::string& message,
                                           absl::Time now) {
  Statement& insert = db_->Prepare(
      "INSERT INTO events(type, time_us, campaign_id, step_key, step_state, "
      "worker_id, message) VALUES(?, ?, ?, ?, ?, ?, ?)");
  insert.Bind(1, static_cast<int>(type)).Bind(2, Micros(now));
  BindOptionalText(insert, 3, campaign_id);
  BindOptionalText(insert, 4, step_key);
  insert.Bind(5, static_cast<int>(state));
  BindOptionalText(insert, 6, worker_id);
  BindOptionalText(insert, 7, message);
  return insert.Run();
}

absl::Status CoordinatorStore::CountStates(StepState state, int64_t delta) {
  Statement& count = db_->Prepare(
      "INSERT INTO step_counts(state, n) VALUES(?1, ?2) "
      "ON CONFLICT(state) DO UPDATE SET n = n + ?2");
  count.Bind(1, static_cast<int>(state)).Bind(2, delta);
  return count.Run();
}

absl::StatusOr<std::vector<std::string>> CoordinatorStore::CampaignsOfStep(
    const std::string& key) {
  Statement& select =
      db_->Prepare("SELECT campaign_id FROM campaign_steps WHERE step_id = "
                   "(SELECT id FROM steps WHERE id = cohort_step_id(?1) AND "
                   "key = ?1)");
  select.Bind(1, key);
  std::vector<std::string> ids;
  while (select.Step()) ids.push_back(select.ColumnText(0));
  COHORT_RETURN_IF_ERROR(select.status());
  return ids;
}

absl::StatusOr<StepState> CoordinatorStore::Apply(const std::string& key, StepState from,
                                                  StepEvent event, absl::Time now,
                                                  const std::string& message,
                                                  const RetryFacts& facts) {
  absl::StatusOr<StepState> to = Next(from, event, facts);
  if (!to.ok()) {
    return absl::FailedPreconditionError(absl::StrCat("step ", key, ": ", to.status().message()));
  }
  COHORT_RETURN_IF_ERROR(SetState(key, from, *to, now, message));
  return *to;
}

absl::Status CoordinatorStore::SetState(const std::string& key, StepState from,
                                        StepState to, absl::Time now,
                                        const std::string& message) {
  // Progress belongs to the running attempt: a step that leaves LEASED
  // drops it, so a finished step never shows a stale "90/90 tensors".
  Statement& update = db_->Prepare(
      "UPDATE steps SET state = ?1, finished_us = CASE WHEN ?2 THEN ?3 ELSE NULL "
      "END, progress_json = CASE WHEN ?6 THEN progress_json ELSE NULL END "
      "WHERE id = cohort_step_id(?4) AND key = ?4 AND +state = ?5");
  update.Bind(1, static_cast<int>(to))
      .Bind(2, IsTerminal(to) ? 1 : 0)
      .Bind(3, Micros(now))
      .Bind(4, key)
      .Bind(5, static_cast<int>(from))
      .Bind(6, to == StepState::kLeased ? 1 : 0);
  COHORT_RETURN_IF_ERROR(update.Run());
  if (update.Changes() != 1) {
    return absl::AbortedError(absl::StrCat("step ", key, " is no longer ",
                                           StepStateName(from)));
  }
  COHORT_RETURN_IF_ERROR(CountStates(from, -1));
  COHORT_RETURN_IF_ERROR(CountStates(to, 1));
  int delta = (IsTerminal(to) ? 0 : 1) - (IsTerminal(from) ? 0 : 1);
  if (delta != 0) {
    Statement& count = db_->Prepare(
        "UPDATE campaigns SET unfinished = unfinished + ? WHERE id IN "
        "(SELECT campaign_id FROM campaign_steps WHERE step_id = "
        "(SELECT id FROM steps WHERE id = cohort_step_id(?2) AND key = ?2))");
    count.Bind(1, delta).Bind(2, key);
    COHORT_RETURN_IF_ERROR(count.Run());
  }
  COHORT_ASSIGN_OR_RETURN(std::vector<std::string> campaigns, CampaignsOfStep(key));
  for (const std::string& campaign : campaigns) {
    COHORT_RETURN_IF_ERROR(AppendEvent(EventType::kStepState, campaign, key, to,
                                       "", message, now));
  }
  if (IsTerminal(to)) return FinishCampaignsIfDone(key, now);
  return absl::OkStatus();
}

absl::Status CoordinatorStore::FinishCampaignsIfDone(const std::string& step_key,
                                                     absl::Time now) {
  Statement& done = db_->Prepare(
      "SELECT id FROM campaigns WHERE state = ? AND unfinished <= 0 AND id IN "
      "(SELECT campaign_id FROM campaign_steps WHERE step_id = "
      "(SELECT id FROM steps WHERE id = cohort_step_id(?2) AND key = ?2))");
  done.Bind(1, static_cast<int>(CampaignState::kRunning)).Bind(2, step_key);
  std::vector<std::string> finished;
  while (done.Step()) finished.push_back(done.ColumnText(0));
  COHORT_RETURN_IF_ERROR(done.status());
  for (const std::string& id : finished) {
    Statement& bad = db_->Prepare(
        "SELECT count(*) FROM campaign_steps cs JOIN steps s ON s.id = "
        "cs.step_id WHERE cs.campaign_id = ? AND +s.state IN (?, ?, ?)");
    static_assert(std::size(kFailedLikeStates) == 3, "one ? per failed-like state");
    bad.Bind(1, id);
    for (int i = 0; i < 3; ++i) bad.Bind(2 + i, static_cast<int>(kFailedLikeStates[i]));
    COHORT_ASSIGN_OR_RETURN(int64_t failures, Count(bad));
    CampaignState state =
        failures > 0 ? CampaignState::kFailed : CampaignState::kSucceeded;
    Statement& update = db_->Prepare(
        "UPDATE campaigns SET state = ?, finished_us = ? WHERE id = ?");
    update.Bind(1, static_cast<int>(state)).Bind(2, Micros(now)).Bind(3, id);
    COHORT_RETURN_IF_ERROR(update.Run());
    COHORT_RETURN_IF_ERROR(AppendEvent(
        EventType::kCampaignFinished, id, "", StepState::kUnspecified, "",
        state == CampaignState::kSucceeded ? "succeeded" : "failed", now));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<StepRecord>> CoordinatorStore::ReadStep(
    const std::string& key) {
  Statement& select = db_->Prepare(absl::StrCat(kStepColumns, " "
      "WHERE id = cohort_step_id(?1) AND key = ?1"));
  select.Bind(1, key);
  std::optional<StepRecord> step;
  if (select.Step()) step = StepFromRow(select);
  while (select.Step()) {
  }
  COHORT_RETURN_IF_ERROR(select.status());
  if (step.has_value()) {
    COHORT_ASSIGN_OR_RETURN(step->inputs, ReadInputs(key));
  }
  return step;
}

absl::StatusOr<std::vector<StepInput>> CoordinatorStore::ReadInputs(
    const std::string& key) {
  Statement& select = db_->Prepare(
      "SELECT inputs_json FROM steps WHERE id = cohort_step_id(?1) AND "
      "key = ?1");
  select.Bind(1, key);
  std::string text = select.Step() ? select.ColumnText(0) : "[]";
  while (select.Step()) {
  }
  COHORT_RETURN_IF_ERROR(select.status());
  json doc = json::parse(text, nullptr, false);
  if (!doc.is_array()) {
    return absl::DataLossError(
        absl::StrCat("step ", key, ": inputs_json is not an array"));
  }
  std::vector<StepInput> inputs;
  for (const json& in : doc) {
    if (!in.is_object()) {
      return absl::DataLossError(
          absl::StrCat("step ", key, ": an input is not an object"));
    }
    StepInput input;
    input.name = in.value("name", "");
    input.artifact_digest = in.value("digest", "");
    if (in.contains("step")) {
      input.source_output = in.value("output", "");
      Statement& source = db_->Prepare("SELECT key FROM steps WHERE id = ?");
      source.Bind(1, in.value("step", int64_t{0}));
      if (source.Step()) input.source_step_key = source.ColumnText(0);
      while (source.Step()) {
      }
      COHORT_RETURN_IF_ERROR(source.status());
      if (input.source_step_key.empty()) {
        return absl::DataLossError(absl::StrCat(
            "step ", key, ": input ", input.name, " names a step that is not stored"));
      }
    }
    inputs.push_back(std::move(input));
  }
  std::sort(inputs.begin(), inputs.end(),
            [](const StepInput& a, const StepInput& b) { return a.name < b.name; });
  return inputs;
}

absl::Status CoordinatorStore::PromoteIfInputsDone(const std::string& key,
                                                   absl::Time now) {
  Statement& parents = db_->Prepare(
      "SELECT s.state FROM step_edges e JOIN steps s ON s.id = e.parent_id "
      "WHERE e.child_id = "
      "(SELECT id FROM steps WHERE id = cohort_step_id(?1) AND key = ?1)");
  parents.Bind(1, key);
  std::vector<StepState> states;
  while (parents.Step()) states.push_back(static_cast<StepState>(parents.ColumnInt64(0)));
  COHORT_RETURN_IF_ERROR(parents.status());
  std::optional<StepEvent> event = EventFromParents(states);
  if (!event.has_value()) return absl::OkStatus();
  return Apply(key, StepState::kWaiting, *event, now,
               *event == StepEvent::kInputFailed ? "an input step failed" : "")
      .status();
}

absl::StatusOr<std::vector<std::pair<std::string, StepState>>>
CoordinatorStore::ChildrenOf(const std::string& key) {
  Statement& children = db_->Prepare(
      "SELECT c.key, c.state FROM step_edges e JOIN steps c ON c.id = e.child_id "
      "WHERE e.parent_id = "
      "(SELECT id FROM steps WHERE id = cohort_step_id(?1) AND key = ?1) "
      "ORDER BY c.id");
  children.Bind(1, key);
  return KeysAndStates(children);
}

absl::Status CoordinatorStore::PromoteChildren(const std::string& key,
                                               absl::Time now) {
  COHORT_ASSIGN_OR_RETURN(auto children, ChildrenOf(key));
  for (const auto& [child, state] : children) {
    if (state != StepState::kWaiting) continue;
    COHORT_RETURN_IF_ERROR(PromoteIfInputsDone(child, now));
  }
  return absl::OkStatus();
}

absl::Status CoordinatorStore::BlockDescendants(const std::string& key,
                                                absl::Time now) {
  std::vector<std::string> frontier = {key};
  while (!frontier.empty()) {
    std::string parent = frontier.back();
    frontier.pop_back();
    COHORT_ASSIGN_OR_RETURN(auto children, ChildrenOf(parent));
    for (const auto& [child, state] : children) {
      if (state != StepState::kWaiting) continue;
      COHORT_RETURN_IF_ERROR(Apply(child, StepState::kWaiting, StepEvent::kInputFailed, now,
                                   absl::StrCat("input step ", parent, " did not succeed"))
                                 .status());
      frontier.push_back(child);
    }
  }
  return absl::OkStatus();
}

absl::Status CoordinatorStore::SkipDescendants(const std::string& key,
                                               const std::string& reason,
                                               absl::Time now) {
  std::vector<std::string> frontier = {key};
  while (!frontier.empty()) {
    std::string parent = frontier.back();
    frontier.pop_back();
    COHORT_ASSIGN_OR_RETURN(auto children, ChildrenOf(parent));
    for (const auto& [child, child_state] : children) {
      if (child_state != StepState::kWaiting && child_state != StepState::kReady) {
        continue;
      }
      COHORT_ASSIGN_OR_RETURN(std::optional<StepRecord> step, ReadStep(child));
      if (!step.has_value()) continue;
      Statement& note =
          db_->Prepare("UPDATE steps SET gate_reason = ? "
              "WHERE id = cohort_step_id(?2) AND key = ?2");
      note.Bind(1, reason).Bind(2, child);
      COHORT_RETURN_IF_ERROR(note.Run());
      COHORT_RETURN_IF_ERROR(Apply(child, step->state, StepEvent::kGateFailed, now,
                                   absl::StrCat("skipped: ", reason))
                                 .status());
      frontier.push_back(child);
    }
  }
  return absl::OkStatus();
}

}  // namespace cohort::server
