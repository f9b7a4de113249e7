// CoordinatorStore: submitting, reading, cancelling and resuming campaigns.
#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/canonical_json.h"
#include "common/sqlite/batch_insert.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "server/store/coordinator_store.h"
#include "server/store/schema.h"
#include "server/store/store_internal.h"

namespace cohort::server {
namespace {

// A waiting step's state from its parents', as PromoteIfInputsDone decides
// it (EventFromParents): BLOCKED when one failed, READY when all succeeded,
// else WAITING.
StepState StateFromParents(
    const PlannedStep& step,
    const absl::flat_hash_map<std::string, StepState>& states) {
  std::vector<StepState> parents;
  parents.reserve(step.parent_keys.size());
  for (const std::string& parent : step.parent_keys) {
    auto found = states.find(parent);
    parents.push_back(found == states.end() ? StepState::kWaiting : found->second);
  }
  std::optional<StepEvent> event = EventFromParents(parents);
  if (!event.has_value()) return StepState::kWaiting;
  return *Next(StepState::kWaiting, *event);
}

// steps.inputs_json: [{"name", "digest"} | {"name", "output", "step": id}].
absl::Status InputsToJson(const std::vector<StepInput>& inputs,
                          const absl::flat_hash_map<absl::string_view, int64_t>& id_of,
                          std::string* out) {
  out->assign("[");
  for (const StepInput& in : inputs) {
    if (out->size() > 1) out->push_back(',');
    out->append("{\"name\":");
    COHORT_RETURN_IF_ERROR(AppendJsonString(in.name, out));
    if (in.source_step_key.empty()) {
      out->append(",\"digest\":");
      COHORT_RETURN_IF_ERROR(AppendJsonString(in.artifact_digest, out));
    } else {
      out->append(",\"output\":");
      COHORT_RETURN_IF_ERROR(AppendJsonString(in.source_output, out));
      absl::StrAppend(out, ",\"step\":", id_of.at(in.source_step_key));
    }
    out->push_back('}');
  }
  out->push_back(']');
  return absl::OkStatus();
}

CampaignRecord CampaignFromRow(const Statement& row) {
  CampaignRecord c;
  c.id = row.ColumnText(0);
  c.name = row.ColumnText(1);
  c.state = static_cast<CampaignState>(row.ColumnInt64(2));
  c.spec_json = row.ColumnText(3);
  c.priority = static_cast<int>(row.ColumnInt64(4));
  c.unfinished = row.ColumnInt64(5);
  c.created = FromMicros(row.ColumnInt64(6));
  if (!row.ColumnIsNull(7)) c.finished = FromMicros(row.ColumnInt64(7));
  c.owner = row.ColumnText(8);
  return c;
}

// Turns this connection's foreign-key checks off for one write transaction
// (begun after it, ended before it goes): SQLite ignores the pragma inside a
// transaction.
class ForeignKeysOff {
 public:
  explicit ForeignKeysOff(Database& db) : db_(db) {}
  ~ForeignKeysOff() {
    // Cannot fail on an open connection outside a transaction.
    if (off_) db_.Execute("PRAGMA foreign_keys=ON").IgnoreError();
  }
  absl::Status TurnOff() {
    COHORT_RETURN_IF_ERROR(db_.Execute("PRAGMA foreign_keys=OFF"));
    off_ = true;
    return absl::OkStatus();
  }

 private:
  Database& db_;
  bool off_ = false;
};

constexpr const char* kCampaignColumns =
    "SELECT id, name, state, spec_json, priority, unfinished, created_us, "
    "finished_us, owner FROM campaigns";

// StepKeyHash of each step's key, computed once per submit.
std::vector<int64_t> KeyHashes(absl::Span<const PlannedStep> steps) {
  std::vector<int64_t> hashes;
  hashes.reserve(steps.size());
  for (const PlannedStep& step : steps) hashes.push_back(StepKeyHash(step.key));
  return hashes;
}

}  // namespace

absl::StatusOr<CoordinatorStore::StoredSteps> CoordinatorStore::StoredStates(
    absl::Span<const PlannedStep> steps, absl::Span<const int64_t> key_hashes) {
  // Only keys the index knows are read, by row id, one IN (...) query per
  // kLookupBatch of them.
  constexpr size_t kLookupBatch = 256;
  absl::flat_hash_set<absl::string_view> wanted;
  std::vector<int64_t> ids;
  for (size_t i = 0; i < steps.size(); ++i) {
    const PlannedStep& step = steps[i];
    int64_t id = step_index_.Find(key_hashes[i], step.key);
    if (id == 0) continue;
    if (wanted.insert(step.key).second) ids.push_back(id);
  }
  StoredSteps stored;
  for (size_t first = 0; first < ids.size(); first += kLookupBatch) {
    size_t n = std::min(kLookupBatch, ids.size() - first);
    std::string sql = "SELECT key, id, state FROM steps WHERE id IN (?";
    for (size_t i = 1; i < n; ++i) sql += ", ?";
    sql += ")";
    Statement& select = db_->Prepare(sql);
    for (size_t i = 0; i < n; ++i) {
      select.Bind(static_cast<int>(i + 1), ids[first + i]);
    }
    while (select.Step()) {
      std::string key = select.ColumnText(0);
      if (!wanted.contains(key)) continue;  // another key with the same hash
      stored.emplace(std::move(key),
                     StoredStep{select.ColumnInt64(1),
                                static_cast<StepState>(select.ColumnInt64(2))});
    }
    COHORT_RETURN_IF_ERROR(select.status());
  }
  return stored;
}

absl::Status CoordinatorStore::InsertNewSteps(
    const std::vector<PlacedStep>& fresh,
    const absl::flat_hash_map<absl::string_view, int64_t>& id_of,
    const std::string& campaign_id, int priority, absl::Time now) {
  // One row per statement: for this wide table SQLite's multi-row VALUES
  // measured twice as slow as single rows.
  BatchInsert steps(*db_,
                    "INSERT INTO steps(id, key, key_hash, kind, params_json, "
                    "impl_version, state, max_attempts, requirements_json, "
                    "priority, display_name, created_us, finished_us, ordinal, "
                    "inputs_json)",
                    15, /*rows_per_statement=*/1);
  std::string inputs_json;
  // Most steps of a campaign ask for the same resources: serialize once.
  const Requirements* last_requirements = nullptr;
  std::string requirements_json;
  for (const PlacedStep& placed : fresh) {
    const PlannedStep& step = *placed.step;
    if (last_requirements == nullptr || *last_requirements != step.requirements) {
      requirements_json = RequirementsToJson(step.requirements);
      last_requirements = &step.requirements;
    }
    // Undone by SubmitCampaign if its transaction rolls back.
    step_index_.Add(placed.key_hash, step.key, placed.id);
    steps.Int(placed.id).Text(step.key).Int(placed.key_hash);
    steps.Int(static_cast<int>(step.kind));
    steps.Text(step.params_json).Text(step.impl_version);
    steps.Int(static_cast<int>(placed.state)).Int(step.max_attempts);
    steps.Text(requirements_json).Int(priority).Text(step.display_name);
    steps.Int(Micros(now));
    if (IsTerminal(placed.state)) {
      steps.Int(Micros(now));
    } else {
      steps.Null();
    }
    steps.Int(step.ordinal);
    COHORT_RETURN_IF_ERROR(InputsToJson(step.inputs, id_of, &inputs_json));
    steps.Text(inputs_json);
    COHORT_RETURN_IF_ERROR(steps.EndRow());
  }
  // Every step before any row that refers to one: foreign keys are checked
  // per statement.
  COHORT_RETURN_IF_ERROR(steps.Finish());
  std::map<StepState, int64_t> added;
  for (const PlacedStep& placed : fresh) ++added[placed.state];
  for (const auto& [state, n] : added) COHORT_RETURN_IF_ERROR(CountStates(state, n));

  BatchInsert edges(*db_, "INSERT INTO step_edges(child_id, parent_id)", 2);
  for (const PlacedStep& placed : fresh) {
    for (const std::string& parent : placed.step->parent_keys) {  // distinct
      COHORT_RETURN_IF_ERROR(edges.Int(placed.id).Int(id_of.at(parent)).EndRow());
    }
  }
  COHORT_RETURN_IF_ERROR(edges.Finish());

  // A new step starts WAITING; one that starts READY or BLOCKED gets the
  // event a promotion would have written, so a watcher misses nothing.
  BatchInsert events(*db_,
                     "INSERT INTO events(type, time_us, campaign_id, step_key, "
                     "step_state, worker_id, message)",
                     7);
  for (const PlacedStep& placed : fresh) {
    if (placed.state == StepState::kWaiting) continue;
    events.Int(static_cast<int>(EventType::kStepState)).Int(Micros(now));
    events.Text(campaign_id).Text(placed.step->key).Int(static_cast<int>(placed.state));
    events.Null().TextOrNull(placed.state == StepState::kBlocked
                                 ? "an input step failed"
                                 : "");
    COHORT_RETURN_IF_ERROR(events.EndRow());
  }
  return events.Finish();
}

absl::Status CoordinatorStore::RearmStep(const std::string& key, absl::Time now,
                                         bool include_succeeded) {
  COHORT_ASSIGN_OR_RETURN(std::optional<StepRecord> step, ReadStep(key));
  if (!step.has_value()) return absl::OkStatus();
  bool rearm = IsRearmable(step->state) ||
               (include_succeeded && step->state == StepState::kSucceeded);
  if (!rearm) return absl::OkStatus();
  Statement& reset = db_->Prepare(
      "UPDATE steps SET attempts = 0, not_before_us = 0, last_error = NULL, "
      "gate_reason = NULL WHERE id = cohort_step_id(?1) AND key = ?1");
  reset.Bind(1, key);
  COHORT_RETURN_IF_ERROR(reset.Run());
  const StepEvent event =
      step->state == StepState::kSucceeded ? StepEvent::kRerun : StepEvent::kRearmed;
  return Apply(key, step->state, event, now, "re-armed").status();
}

absl::Status CoordinatorStore::SubmitChunk(absl::Span<const PlannedStep> chunk,
                                           SubmitProgress& progress) {
  const std::vector<int64_t> key_hashes = KeyHashes(chunk);
  COHORT_ASSIGN_OR_RETURN(StoredSteps stored, StoredStates(chunk, key_hashes));
  for (auto& [key, step] : stored) {
    bool rearm = IsRearmable(step.state) ||
                 (progress.rerun && step.state == StepState::kSucceeded);
    if (!rearm) continue;
    COHORT_RETURN_IF_ERROR(RearmStep(key, progress.now, progress.rerun));
    step.state = StepState::kWaiting;
  }
  // Every distinct step's state, decided in plan (topological) order from
  // its parents' as PromoteIfInputsDone would, without reading anything
  // back: the work per step stays constant however big the campaign. New
  // steps get ids in plan order, so every table keyed by step id grows at
  // its end.
  absl::flat_hash_map<std::string, StepState>& states = *progress.states;
  std::vector<PlacedStep> fresh;
  std::vector<PlacedStep> distinct;
  for (size_t i = 0; i < chunk.size(); ++i) {
    const PlannedStep& step = chunk[i];
    if (states.count(step.key) != 0) continue;  // two nodes, one key
    auto found = stored.find(step.key);
    StepState as_stored =
        found == stored.end() ? StepState::kWaiting : found->second.state;
    StepState state = as_stored;
    if (state == StepState::kWaiting) state = StateFromParents(step, states);
    states.emplace(step.key, state);
    PlacedStep placed{&step,
                      found == stored.end() ? progress.next_id++ : found->second.id,
                      state, key_hashes[i]};
    progress.id_of.emplace(step.key, placed.id);
    if (found == stored.end()) {
      fresh.push_back(placed);
    } else if (state != as_stored) {
      progress.promoted.push_back(placed);
    }
    distinct.push_back(placed);
    // A new step counts as it is inserted; a stored one as it is now (the
    // promotions at the end count their own changes).
    if (!IsTerminal(found == stored.end() ? state : as_stored)) ++progress.unfinished;
    if (state == StepState::kSucceeded) ++progress.cached;
  }
  COHORT_RETURN_IF_ERROR(InsertNewSteps(fresh, progress.id_of, progress.campaign_id,
                                        progress.priority, progress.now));
  std::sort(distinct.begin(), distinct.end(),
            [](const PlacedStep& a, const PlacedStep& b) { return a.id < b.id; });
  BatchInsert links(*db_,
                    "INSERT INTO campaign_steps(campaign_id, step_id, node_id, model, suite)",
                    5);
  for (const PlacedStep& placed : distinct) {
    links.Text(progress.campaign_id).Int(placed.id).Text(placed.step->node_id);
    links.Text(placed.step->model).Text(placed.step->suite);
    COHORT_RETURN_IF_ERROR(links.EndRow());
  }
  return links.Finish();
}

absl::StatusOr<SubmitOutcome> CoordinatorStore::SubmitCampaign(
    const std::string& name, const std::string& spec_json, int priority,
    const std::string& idempotency_key, const std::vector<PlannedStep>& steps,
    absl::Time now, bool rerun, const StepsReady& ready, const std::string& owner) {
  // A submit links only rows it inserts or reads in its own transaction;
  // checking every link against its parent cost 0.1 s per 10^5 steps. (The
  // store's tests run PRAGMA foreign_key_check after every case.)
  ForeignKeysOff unchecked(*db_);
  COHORT_RETURN_IF_ERROR(unchecked.TurnOff());
  step_index_.Mark();
  absl::StatusOr<SubmitOutcome> outcome = SubmitInTransaction(
      name, spec_json, priority, idempotency_key, steps, now, rerun, ready, owner);
  if (outcome.ok()) {
    step_index_.Keep();
  } else {
    step_index_.Undo();  // the transaction rolled back
  }
  return outcome;
}

absl::StatusOr<SubmitOutcome> CoordinatorStore::SubmitInTransaction(
    const std::string& name, const std::string& spec_json, int priority,
    const std::string& idempotency_key, const std::vector<PlannedStep>& steps,
    absl::Time now, bool rerun, const StepsReady& ready, const std::string& owner) {
  Transaction tx(*db_);
  COHORT_RETURN_IF_ERROR(tx.Begin());
  SubmitOutcome outcome;
  if (!idempotency_key.empty()) {
    Statement& seen =
        db_->Prepare("SELECT id, owner FROM campaigns WHERE idempotency_key = ?");
    seen.Bind(1, idempotency_key);
    if (seen.Step()) {
      outcome.campaign_id = seen.ColumnText(0);
      if (seen.ColumnText(1) != owner) {
        while (seen.Step()) {
        }
        return absl::PermissionDeniedError(
            "this idempotency key names another client's campaign");
      }
      outcome.already_submitted = true;
      while (seen.Step()) {
      }
      return outcome;
    }
    COHORT_RETURN_IF_ERROR(seen.status());
  }
  outcome.campaign_id = RandomId("c-");
  Statement& insert = db_->Prepare(
      "INSERT INTO campaigns(id, name, state, spec_json, priority, "
      "idempotency_key, created_us, owner) VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
  insert.Bind(1, outcome.campaign_id)
      .Bind(2, name)
      .Bind(3, static_cast<int>(CampaignState::kRunning))
      .Bind(4, spec_json)
      .Bind(5, priority);
  BindOptionalText(insert, 6, idempotency_key);
  insert.Bind(7, Micros(now)).Bind(8, owner);
  COHORT_RETURN_IF_ERROR(insert.Run());

  SubmitProgress progress;
  progress.campaign_id = outcome.campaign_id;
  progress.priority = priority;
  progress.now = now;
  progress.rerun = rerun;
  progress.states = &outcome.step_states;
  progress.states->reserve(steps.size());
  progress.id_of.reserve(steps.size());
  Statement& last = db_->Prepare("SELECT coalesce(max(id), 0) FROM steps");
  progress.next_id = last.Step() ? last.ColumnInt64(0) + 1 : 1;
  while (last.Step()) {
  }
  COHORT_RETURN_IF_ERROR(last.status());
  // In chunks, so that with a planner running beside us the store starts
  // on the first steps while the last are still being planned.
  constexpr size_t kChunk = 4096;
  for (size_t begin = 0; begin < steps.size();) {
    size_t end = std::min(begin + kChunk, steps.size());
    if (ready) {
      COHORT_ASSIGN_OR_RETURN(size_t planned, ready(end));
      end = std::min(end, planned);
      if (end <= begin) return absl::InternalError("the planner stopped early");
    }
    COHORT_RETURN_IF_ERROR(SubmitChunk(
        absl::MakeConstSpan(steps.data() + begin, end - begin), progress));
    begin = end;
  }
  // The campaign's counter as stored now; the promotions below keep it
  // current through SetState like any later transition.
  outcome.steps_cached = progress.cached;
  Statement& count = db_->Prepare("UPDATE campaigns SET unfinished = ? WHERE id = ?");
  count.Bind(1, progress.unfinished).Bind(2, outcome.campaign_id);
  COHORT_RETURN_IF_ERROR(count.Run());
  COHORT_RETURN_IF_ERROR(AppendEvent(EventType::kCampaignSubmitted,
                                     outcome.campaign_id, "",
                                     StepState::kUnspecified, "", name, now));
  for (const PlacedStep& placed : progress.promoted) {
    const bool blocked = placed.state == StepState::kBlocked;
    COHORT_RETURN_IF_ERROR(
        Apply(placed.step->key, StepState::kWaiting,
              blocked ? StepEvent::kInputFailed : StepEvent::kInputsDone, now,
              blocked ? "an input step failed" : "")
            .status());
  }
  outcome.steps_total = static_cast<uint32_t>(outcome.step_states.size());
  outcome.steps_to_run = outcome.steps_total - outcome.steps_cached;
  // A campaign whose every step was cached (or blocked) is done at once.
  Statement& left = db_->Prepare("SELECT unfinished FROM campaigns WHERE id = ?");
  left.Bind(1, outcome.campaign_id);
  int64_t still_unfinished = left.Step() ? left.ColumnInt64(0) : 0;
  while (left.Step()) {
  }
  COHORT_RETURN_IF_ERROR(left.status());
  if (still_unfinished == 0 && !steps.empty()) {
    COHORT_RETURN_IF_ERROR(FinishCampaignsIfDone(steps.front().key, now));
  } else if (steps.empty()) {
    Statement& finish = db_->Prepare(
        "UPDATE campaigns SET state = ?, finished_us = ? WHERE id = ?");
    finish.Bind(1, static_cast<int>(CampaignState::kSucceeded))
        .Bind(2, Micros(now))
        .Bind(3, outcome.campaign_id);
    COHORT_RETURN_IF_ERROR(finish.Run());
  }
  COHORT_RETURN_IF_ERROR(tx.Commit());
  return outcome;
}

absl::Status CoordinatorStore::SetLogTail(const std::string& key,
                                          const std::string& tail) {
  Statement& update = db_->Prepare("UPDATE steps SET log_tail = ? "
      "WHERE id = cohort_step_id(?2) AND key = ?2");
  update.Bind(1, tail).Bind(2, key);
  return update.Run();
}

absl::StatusOr<SubmitOutcome> CoordinatorStore::DryRun(
    const std::vector<PlannedStep>& steps) {
  SubmitOutcome outcome;
  COHORT_ASSIGN_OR_RETURN(StoredSteps stored, StoredStates(steps, KeyHashes(steps)));
  for (const auto& [key, step] : stored) {
    outcome.step_states.emplace(key, step.state);
    if (step.state == StepState::kSucceeded) ++outcome.steps_cached;
  }
  std::set<std::string> keys;
  for (const PlannedStep& step : steps) keys.insert(step.key);
  outcome.steps_total = static_cast<uint32_t>(keys.size());
  outcome.steps_to_run = outcome.steps_total - outcome.steps_cached;
  return outcome;
}

absl::StatusOr<CampaignRecord> CoordinatorStore::GetCampaign(
    const std::string& id) {
  Statement& select = db_->Prepare(absl::StrCat(kCampaignColumns, " WHERE id = ?"));
  select.Bind(1, id);
  std::optional<CampaignRecord> campaign;
  if (select.Step()) campaign = CampaignFromRow(select);
  while (select.Step()) {
  }
  COHORT_RETURN_IF_ERROR(select.status());
  if (!campaign.has_value()) {
    return absl::NotFoundError(absl::StrCat("no campaign ", id));
  }
  return *campaign;
}

absl::StatusOr<std::vector<std::string>> CoordinatorStore::OwnersOfStep(
    const std::string& key) {
  Statement& select = db_->Prepare(
      "SELECT DISTINCT c.owner FROM campaigns c JOIN campaign_steps cs ON cs.campaign_id = c.id "
      "WHERE cs.step_id = (SELECT id FROM steps WHERE id = cohort_step_id(?1) AND key = ?1)");
  select.Bind(1, key);
  std::vector<std::string> owners;
  while (select.Step()) owners.push_back(select.ColumnText(0));
  COHORT_RETURN_IF_ERROR(select.status());
  return owners;
}

absl::StatusOr<std::vector<CampaignRecord>> CoordinatorStore::ListCampaigns(
    int limit, const std::optional<std::string>& owner) {
  Statement& select = db_->Prepare(absl::StrCat(
      kCampaignColumns, owner.has_value() ? " WHERE owner IN ('', ?2)" : "",
      " ORDER BY created_us DESC LIMIT ?1"));
  select.Bind(1, limit);
  if (owner.has_value()) select.Bind(2, *owner);
  std::vector<CampaignRecord> campaigns;
  while (select.Step()) campaigns.push_back(CampaignFromRow(select));
  COHORT_RETURN_IF_ERROR(select.status());
  return campaigns;
}

absl::StatusOr<std::vector<StepRecord>> CoordinatorStore::CampaignSteps(
    const std::string& id) {
  COHORT_RETURN_IF_ERROR(GetCampaign(id).status());
  std::string columns(kStepColumns);
  columns.resize(columns.size() - std::string(" FROM steps").size());
  Statement& select = db_->Prepare(absl::StrCat(
      columns,
      ", cs.node_id, cs.model, cs.suite FROM steps JOIN campaign_steps cs ON cs.step_id = steps.id"
      // Plan order (ordinal) within a submit: status and reports list the
      // steps as the spec expands them, not by key hash.
      " WHERE cs.campaign_id = ? ORDER BY steps.created_us, steps.ordinal, steps.key"));
  select.Bind(1, id);
  std::vector<StepRecord> steps;
  COHORT_ASSIGN_OR_RETURN(int64_t count, CampaignStepCount(id));
  steps.reserve(static_cast<size_t>(count));
  std::unordered_map<std::string, size_t> index;
  while (select.Step()) {
    steps.push_back(StepFromRow(select));
    steps.back().node_id = select.ColumnText(19);
    steps.back().model = select.ColumnText(20);
    steps.back().suite = select.ColumnText(21);
    index.emplace(steps.back().key, steps.size() - 1);
  }
  COHORT_RETURN_IF_ERROR(select.status());
  // Every output of the campaign's steps in one query, not one per step.
  Statement& outputs = db_->Prepare(
      "SELECT s.key, so.name, so.digest, a.kind, a.size_bytes, a.is_folder "
      "FROM step_outputs so JOIN campaign_steps cs ON cs.step_id = so.step_id "
      "JOIN steps s ON s.id = so.step_id JOIN artifacts a ON a.digest = "
      "so.digest WHERE cs.campaign_id = ? ORDER BY s.key, so.name");
  outputs.Bind(1, id);
  while (outputs.Step()) {
    auto found = index.find(outputs.ColumnText(0));
    if (found == index.end()) continue;
    OutputArtifact out;
    out.name = outputs.ColumnText(1);
    out.digest = outputs.ColumnText(2);
    out.kind = static_cast<int>(outputs.ColumnInt64(3));
    out.size_bytes = static_cast<uint64_t>(outputs.ColumnInt64(4));
    out.is_folder = outputs.ColumnInt64(5) != 0;
    steps[found->second].outputs.push_back(std::move(out));
  }
  COHORT_RETURN_IF_ERROR(outputs.status());
  return steps;
}

absl::StatusOr<StepRecord> CoordinatorStore::GetStep(const std::string& key) {
  COHORT_ASSIGN_OR_RETURN(std::optional<StepRecord> step, ReadStep(key));
  if (!step.has_value()) return absl::NotFoundError(absl::StrCat("no step ", key));
  return *step;
}

absl::Status CoordinatorStore::CancelCampaign(const std::string& id,
                                              absl::Time now) {
  Transaction tx(*db_);
  COHORT_RETURN_IF_ERROR(tx.Begin());
  COHORT_ASSIGN_OR_RETURN(CampaignRecord campaign, GetCampaign(id));
  if (campaign.state != CampaignState::kRunning) return tx.Commit();
  Statement& update = db_->Prepare(
      "UPDATE campaigns SET state = ?, finished_us = ? WHERE id = ?");
  update.Bind(1, static_cast<int>(CampaignState::kCancelled))
      .Bind(2, Micros(now))
      .Bind(3, id);
  COHORT_RETURN_IF_ERROR(update.Run());
  // Unfinished steps no other running campaign shares.
  Statement& select = db_->Prepare(
      "SELECT s.key, s.state FROM campaign_steps cs JOIN steps s ON s.id = "
      "cs.step_id WHERE cs.campaign_id = ?1 AND +s.state IN (1, 2, 3) AND NOT "
      "EXISTS (SELECT 1 FROM campaign_steps o JOIN campaigns c ON c.id = "
      "o.campaign_id WHERE o.step_id = s.id AND o.campaign_id != ?1 AND "
      "c.state = 1)");
  select.Bind(1, id);
  COHORT_ASSIGN_OR_RETURN(auto steps, KeysAndStates(select));
  for (const auto& [key, state] : steps) {
    COHORT_RETURN_IF_ERROR(
        Apply(key, state, StepEvent::kCancelled, now, "campaign cancelled").status());
  }
  COHORT_RETURN_IF_ERROR(AppendEvent(EventType::kCampaignFinished, id, "",
                                     StepState::kUnspecified, "", "cancelled",
                                     now));
  return tx.Commit();
}

absl::Status CoordinatorStore::ResumeCampaign(const std::string& id,
                                              absl::Time now) {
  Transaction tx(*db_);
  COHORT_RETURN_IF_ERROR(tx.Begin());
  COHORT_ASSIGN_OR_RETURN(std::vector<StepRecord> steps, CampaignSteps(id));
  Statement& running = db_->Prepare(
      "UPDATE campaigns SET state = ?, finished_us = NULL WHERE id = ?");
  running.Bind(1, static_cast<int>(CampaignState::kRunning)).Bind(2, id);
  COHORT_RETURN_IF_ERROR(running.Run());
  std::vector<std::string> rearmed;
  for (const StepRecord& step : steps) {
    if (!IsRearmable(step.state)) continue;
    COHORT_RETURN_IF_ERROR(RearmStep(step.key, now));
    rearmed.push_back(step.key);
  }
  for (const std::string& key : rearmed) {
    COHORT_ASSIGN_OR_RETURN(std::optional<StepRecord> step, ReadStep(key));
    if (step.has_value() && step->state == StepState::kWaiting) {
      COHORT_RETURN_IF_ERROR(PromoteIfInputsDone(key, now));
    }
  }
  COHORT_RETURN_IF_ERROR(FinishCampaignsIfDone(
      steps.empty() ? std::string() : steps.front().key, now));
  return tx.Commit();
}

absl::Status CoordinatorStore::RetryStep(const std::string& key, absl::Time now) {
  Transaction tx(*db_);
  COHORT_RETURN_IF_ERROR(tx.Begin());
  COHORT_ASSIGN_OR_RETURN(StepRecord step, GetStep(key));
  if (!IsRearmable(step.state)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "step ", key, " is ", StepStateName(step.state), "; only failed, "
        "blocked, skipped or cancelled steps can be retried"));
  }
  // The step and every step below it that stopped because of it (blocked,
  // or cancelled or skipped with it) go back to waiting: retrying a
  // cancelled generate left its cancelled score behind. A step below that
  // failed on its own stays failed.
  std::vector<std::string> frontier = {key};
  std::vector<std::string> rearmed;
  std::set<std::string> visited;
  while (!frontier.empty()) {
    std::string current = frontier.back();
    frontier.pop_back();
    if (!visited.insert(current).second) continue;
    COHORT_RETURN_IF_ERROR(RearmStep(current, now));
    rearmed.push_back(current);
    COHORT_ASSIGN_OR_RETURN(auto children, ChildrenOf(current));
    for (const auto& [child, state] : children) {
      if (IsRearmable(state) && state != StepState::kFailed) frontier.push_back(child);
    }
  }
  Statement& running = db_->Prepare(
      "UPDATE campaigns SET state = ?, finished_us = NULL WHERE unfinished > 0 "
      "AND state = ? AND id IN (SELECT campaign_id FROM campaign_steps WHERE "
      "step_id = "
      "(SELECT id FROM steps WHERE id = cohort_step_id(?3) AND key = ?3))");
  running.Bind(1, static_cast<int>(CampaignState::kRunning))
      .Bind(2, static_cast<int>(CampaignState::kFailed))
      .Bind(3, key);
  COHORT_RETURN_IF_ERROR(running.Run());
  for (const std::string& k : rearmed) {
    COHORT_ASSIGN_OR_RETURN(std::optional<StepRecord> s, ReadStep(k));
    if (s.has_value() && s->state == StepState::kWaiting) {
      COHORT_RETURN_IF_ERROR(PromoteIfInputsDone(k, now));
    }
  }
  return tx.Commit();
}

}  // namespace cohort::server
