// CoordinatorStore: workers, leases, completion and failure.
#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "server/store/coordinator_store.h"
#include "server/store/store_internal.h"

namespace cohort::server {
namespace {

// Candidates examined per lease request: enough to skip steps this worker
// cannot run without scanning a huge ready queue.
constexpr int kLeaseScan = 256;

}  // namespace

absl::StatusOr<std::vector<LeaseGrant>> CoordinatorStore::RegisterWorker(
    const std::string& id, const std::string& info_json, absl::Time now,
    const std::string& token_hash) {
  Transaction tx(*db_);
  COHORT_RETURN_IF_ERROR(tx.Begin());
  Statement& owner = db_->Prepare("SELECT token_hash FROM workers WHERE id = ?");
  owner.Bind(1, id);
  std::string bound;
  if (owner.Step()) bound = owner.ColumnText(0);
  while (owner.Step()) {
  }
  COHORT_RETURN_IF_ERROR(owner.status());
  if (!bound.empty() && bound != token_hash) {
    return absl::PermissionDeniedError(absl::StrCat(
        "worker id ", id, " belongs to another worker token (the one that registered it first)"));
  }
  Statement& upsert = db_->Prepare(
      "INSERT INTO workers(id, info_json, registered_us, last_heartbeat_us, token_hash) "
      "VALUES(?1, ?2, ?3, ?3, ?4) ON CONFLICT(id) DO UPDATE SET info_json = ?2, "
      "last_heartbeat_us = ?3, token_hash = ?4");
  upsert.Bind(1, id).Bind(2, info_json).Bind(3, Micros(now)).Bind(4, token_hash);
  COHORT_RETURN_IF_ERROR(upsert.Run());
  COHORT_RETURN_IF_ERROR(AppendEvent(EventType::kWorkerJoined, "", "",
                                     StepState::kUnspecified, id, "", now));
  Statement& held = db_->Prepare(
      absl::StrCat(kStepColumns, " INDEXED BY steps_leased WHERE ", kLeasedSteps,
                   " AND worker_id = ?"));
  held.Bind(1, id);
  std::vector<StepRecord> steps;
  while (held.Step()) steps.push_back(StepFromRow(held));
  COHORT_RETURN_IF_ERROR(held.status());
  std::vector<LeaseGrant> grants;
  for (StepRecord& step : steps) {
    COHORT_ASSIGN_OR_RETURN(LeaseGrant grant, MakeGrant(std::move(step)));
    grants.push_back(std::move(grant));
  }
  COHORT_RETURN_IF_ERROR(tx.Commit());
  return grants;
}

absl::StatusOr<std::string> CoordinatorStore::TokenOfWorker(const std::string& id) {
  Statement& select = db_->Prepare("SELECT token_hash FROM workers WHERE id = ?");
  select.Bind(1, id);
  std::optional<std::string> hash;
  if (select.Step()) hash = select.ColumnText(0);
  while (select.Step()) {
  }
  COHORT_RETURN_IF_ERROR(select.status());
  if (!hash.has_value()) {
    return absl::NotFoundError(absl::StrCat("worker ", id, " is not registered"));
  }
  return *hash;
}

absl::StatusOr<std::string> CoordinatorStore::WorkerOfLease(const std::string& lease_id) {
  COHORT_ASSIGN_OR_RETURN(std::optional<StepRecord> step, StepOfLease(lease_id));
  return step.has_value() ? step->worker_id : "";
}

absl::StatusOr<std::vector<WorkerRecord>> CoordinatorStore::ListWorkers() {
  Statement& select = db_->Prepare(
      "SELECT id, info_json, registered_us, last_heartbeat_us FROM workers "
      "ORDER BY id");
  std::vector<WorkerRecord> workers;
  while (select.Step()) {
    workers.push_back({select.ColumnText(0), select.ColumnText(1),
                       FromMicros(select.ColumnInt64(2)),
                       FromMicros(select.ColumnInt64(3))});
  }
  COHORT_RETURN_IF_ERROR(select.status());
  return workers;
}

absl::StatusOr<LeaseGrant> CoordinatorStore::MakeGrant(StepRecord step) {
  LeaseGrant grant;
  grant.lease_id = step.lease_id;
  grant.epoch = step.lease_epoch;
  grant.expiry = step.lease_expiry;
  COHORT_ASSIGN_OR_RETURN(std::optional<StepRecord> full, ReadStep(step.key));
  grant.step = std::move(*full);
  for (const StepInput& in : grant.step.inputs) {
    OutputArtifact artifact;
    artifact.name = in.name;
    artifact.digest = in.artifact_digest;
    if (artifact.digest.empty()) {
      COHORT_ASSIGN_OR_RETURN(artifact.digest,
                              OutputDigest(in.source_step_key, in.source_output));
      if (artifact.digest.empty()) {
        return absl::InternalError(absl::StrCat(
            "step ", step.key, ": input ", in.name, " has no registered output ",
            in.source_output, " of step ", in.source_step_key));
      }
    }
    Statement& meta = db_->Prepare(
        "SELECT kind, size_bytes, is_folder FROM artifacts WHERE digest = ?");
    meta.Bind(1, artifact.digest);
    if (meta.Step()) {
      artifact.kind = static_cast<int>(meta.ColumnInt64(0));
      artifact.size_bytes = static_cast<uint64_t>(meta.ColumnInt64(1));
      artifact.is_folder = meta.ColumnInt64(2) != 0;
    }
    while (meta.Step()) {
    }
    COHORT_RETURN_IF_ERROR(meta.status());
    Statement& where = db_->Prepare(
        "SELECT location FROM artifact_locations WHERE digest = ? ORDER BY location");
    where.Bind(1, artifact.digest);
    while (where.Step()) artifact.locations.push_back(where.ColumnText(0));
    COHORT_RETURN_IF_ERROR(where.status());
    grant.inputs.emplace_back(in.name, std::move(artifact));
  }
  return grant;
}

absl::StatusOr<bool> CoordinatorStore::HasReadyStep(absl::Time now) {
  Statement& any = db_->Prepare(
      absl::StrCat("SELECT 1 FROM steps INDEXED BY steps_ready WHERE ", kReadySteps,
                   " AND not_before_us <= ? LIMIT 1"));
  any.Bind(1, Micros(now));
  bool found = any.Step();
  while (any.Step()) {
  }
  COHORT_RETURN_IF_ERROR(any.status());
  return found;
}

absl::StatusOr<std::optional<LeaseGrant>> CoordinatorStore::LeaseNext(
    const WorkerCapacity& worker, absl::Time now, absl::Duration duration) {
  Transaction tx(*db_);
  COHORT_RETURN_IF_ERROR(tx.Begin());
  COHORT_ASSIGN_OR_RETURN(std::optional<LeaseGrant> grant,
                          LeaseNextInTransaction(worker, now, duration));
  COHORT_RETURN_IF_ERROR(tx.Commit());
  return grant;
}

absl::StatusOr<std::vector<std::optional<LeaseGrant>>> CoordinatorStore::LeaseMany(
    const std::vector<WorkerCapacity>& workers, absl::Time now,
    absl::Duration duration) {
  std::vector<std::optional<LeaseGrant>> grants;
  COHORT_ASSIGN_OR_RETURN(bool any, HasReadyStep(now));
  if (!any || workers.empty()) return grants;
  Transaction tx(*db_);
  COHORT_RETURN_IF_ERROR(tx.Begin());
  for (const WorkerCapacity& worker : workers) {
    COHORT_ASSIGN_OR_RETURN(std::optional<LeaseGrant> grant,
                            LeaseNextInTransaction(worker, now, duration));
    bool granted = grant.has_value();
    grants.push_back(std::move(grant));
    if (granted) {
      COHORT_ASSIGN_OR_RETURN(any, HasReadyStep(now));
      if (!any) break;
    }
  }
  COHORT_RETURN_IF_ERROR(tx.Commit());
  return grants;
}

absl::StatusOr<std::optional<LeaseGrant>> CoordinatorStore::LeaseNextInTransaction(
    const WorkerCapacity& worker, absl::Time now, absl::Duration duration) {
  Statement& ready = db_->Prepare(absl::StrCat(
      kStepColumns,
      " INDEXED BY steps_ready WHERE ", kReadySteps,
      " AND not_before_us <= ? ORDER BY priority DESC, "
      "ordinal, created_us, id LIMIT ?"));
  ready.Bind(1, Micros(now)).Bind(2, kLeaseScan);
  // Locality can only matter when the worker holds some artifact; otherwise
  // the first step it can run is the answer, and scanning on (and asking
  // about the inputs of every candidate) would cost O(ready queue) per lease.
  Statement& holds = db_->Prepare(
      "SELECT 1 FROM artifact_locations WHERE location = ? LIMIT 1");
  holds.Bind(1, absl::StrCat("worker:", worker.worker_id));
  const bool holds_any = holds.Step();
  while (holds.Step()) {
  }
  COHORT_RETURN_IF_ERROR(holds.status());
  std::vector<StepRecord> candidates;
  while (ready.Step()) {
    StepRecord step = StepFromRow(ready);
    if (!Matches(step.requirements, worker)) continue;
    candidates.push_back(std::move(step));
    if (!holds_any) break;
  }
  absl::Status scanned = ready.status();
  ready.Reset();  // may stop early: release the read cursor
  COHORT_RETURN_IF_ERROR(scanned);
  if (candidates.empty()) return std::optional<LeaseGrant>();
  // Among the best-priority candidates, prefer one whose inputs this worker
  // already holds: moving a 50 GB checkpoint costs more than waiting.
  int best_priority = candidates.front().priority;
  StepRecord* chosen = &candidates.front();
  Statement& local = db_->Prepare(
      "SELECT count(*) FROM steps s, json_each(s.inputs_json) i "
      "LEFT JOIN step_outputs o ON o.step_id = json_extract(i.value, '$.step') "
      "AND o.name = json_extract(i.value, '$.output') "
      "JOIN artifact_locations l ON l.digest = "
      "coalesce(json_extract(i.value, '$.digest'), o.digest) "
      "WHERE s.id = cohort_step_id(?1) AND s.key = ?1 AND l.location = ?");
  for (StepRecord& step : candidates) {
    if (!holds_any || step.priority != best_priority) break;
    local.Bind(1, step.key).Bind(2, absl::StrCat("worker:", worker.worker_id));
    COHORT_ASSIGN_OR_RETURN(int64_t held, Count(local));
    if (held > 0) {
      chosen = &step;
      break;
    }
  }
  std::string lease_id = RandomId("l-");
  absl::Time expiry = now + duration;
  Statement& lease = db_->Prepare(
      "UPDATE steps SET lease_id = ?, lease_epoch = lease_epoch + 1, "
      "lease_expiry_us = ?, worker_id = ?, attempts = attempts + 1, "
      "started_us = ?, progress_json = NULL "
      "WHERE id = cohort_step_id(?5) AND key = ?5");
  lease.Bind(1, lease_id)
      .Bind(2, Micros(expiry))
      .Bind(3, worker.worker_id)
      .Bind(4, Micros(now))
      .Bind(5, chosen->key);
  COHORT_RETURN_IF_ERROR(lease.Run());
  COHORT_RETURN_IF_ERROR(Apply(chosen->key, StepState::kReady, StepEvent::kLeased, now,
                               absl::StrCat("leased to ", worker.worker_id))
                             .status());
  COHORT_ASSIGN_OR_RETURN(std::optional<StepRecord> leased, ReadStep(chosen->key));
  COHORT_ASSIGN_OR_RETURN(LeaseGrant grant, MakeGrant(std::move(*leased)));
  return std::optional<LeaseGrant>(std::move(grant));
}

absl::StatusOr<bool> CoordinatorStore::ReclaimLapsedLease(const StepRecord& step,
                                                          absl::Time now,
                                                          absl::Time expiry) {
  // The epoch decides: a re-lease would have given the step a new lease id
  // and epoch, so the same lease id and epoch on a READY step means nobody
  // else took it since the lease lapsed.
  if (step.state != StepState::kReady) return false;
  Statement& take = db_->Prepare(
      "UPDATE steps SET lease_expiry_us = ? WHERE id = cohort_step_id(?2) AND key = ?2");
  take.Bind(1, Micros(expiry)).Bind(2, step.key);
  COHORT_RETURN_IF_ERROR(take.Run());
  COHORT_RETURN_IF_ERROR(Apply(step.key, StepState::kReady, StepEvent::kLeased, now,
                               absl::StrCat("lease ", step.lease_id, " of worker ",
                                            step.worker_id,
                                            " came back before anyone else took the step"))
                             .status());
  return true;
}

absl::StatusOr<std::optional<StepRecord>> CoordinatorStore::StepOfLease(
    const std::string& lease_id) {
  Statement& select = db_->Prepare(absl::StrCat(kStepColumns, " WHERE lease_id = ?"));
  select.Bind(1, lease_id);
  std::optional<StepRecord> step;
  if (select.Step()) step = StepFromRow(select);
  while (select.Step()) {
  }
  COHORT_RETURN_IF_ERROR(select.status());
  return step;
}

absl::StatusOr<StepRecord> CoordinatorStore::CurrentLease(const LeaseRef& lease,
                                                          absl::Time now) {
  COHORT_ASSIGN_OR_RETURN(std::optional<StepRecord> step, StepOfLease(lease.lease_id));
  if (step.has_value() && step->lease_epoch == lease.epoch &&
      step->state == StepState::kReady) {
    // A lease that lapsed (its worker was cut off) but whose step nobody
    // took since may still finish and report. A minute to the next renewal.
    COHORT_ASSIGN_OR_RETURN(bool back,
                            ReclaimLapsedLease(*step, now, now + absl::Minutes(1)));
    if (back) step->state = StepState::kLeased;
  }
  if (!step.has_value() || step->state != StepState::kLeased ||
      step->lease_epoch != lease.epoch) {
    return absl::FailedPreconditionError(absl::StrCat(
        "lease ", lease.lease_id, " epoch ", lease.epoch,
        " is not current (expired, re-leased or cancelled)"));
  }
  return *step;
}

absl::StatusOr<HeartbeatOutcome> CoordinatorStore::Heartbeat(
    const std::string& worker_id, const std::vector<LeaseRef>& leases,
    absl::Time now, absl::Duration duration) {
  // A renewal lost to a power failure costs nothing: after a restart every
  // lease gets the restart grace and the worker's next heartbeat renews it
  // again. Skipping the fsync keeps 200 heartbeats/s (1,000 workers) from
  // queueing the commits that lease and complete steps behind theirs.
  Transaction tx(*db_, Transaction::Sync::kDeferredSync);
  COHORT_RETURN_IF_ERROR(tx.Begin());
  HeartbeatOutcome outcome;
  outcome.new_expiry = now + duration;
  Statement& seen = db_->Prepare(
      "UPDATE workers SET last_heartbeat_us = ? WHERE id = ?");
  seen.Bind(1, Micros(now)).Bind(2, worker_id);
  COHORT_RETURN_IF_ERROR(seen.Run());
  if (seen.Changes() == 0) {
    return absl::NotFoundError(absl::StrCat("unknown worker ", worker_id,
                                            "; register first"));
  }
  for (const LeaseRef& lease : leases) {
    Statement& renew = db_->Prepare(
        "UPDATE steps SET lease_expiry_us = ?, progress_json = "
        "coalesce(?, progress_json) WHERE lease_id = ? AND lease_epoch = ? AND "
        "+state = ? AND worker_id = ?");
    renew.Bind(1, Micros(outcome.new_expiry));
    BindOptionalText(renew, 2, lease.progress_json);
    renew.Bind(3, lease.lease_id)
        .Bind(4, lease.epoch)
        .Bind(5, static_cast<int>(StepState::kLeased))
        .Bind(6, worker_id);
    COHORT_RETURN_IF_ERROR(renew.Run());
    bool renewed = renew.Changes() == 1;
    if (!renewed) {
      COHORT_ASSIGN_OR_RETURN(std::optional<StepRecord> step, StepOfLease(lease.lease_id));
      if (step.has_value() && step->lease_epoch == lease.epoch && step->worker_id == worker_id) {
        COHORT_ASSIGN_OR_RETURN(renewed, ReclaimLapsedLease(*step, now, outcome.new_expiry));
      }
    }
    (renewed ? outcome.renewed : outcome.revoked).push_back(lease.lease_id);
    if (!renewed) {
      progress_logged_.erase(lease.lease_id);
    } else if (!lease.progress_json.empty()) {
      COHORT_RETURN_IF_ERROR(LogProgress(lease, worker_id, now));
    }
  }
  COHORT_RETURN_IF_ERROR(tx.Commit());
  return outcome;
}

absl::Status CoordinatorStore::LogProgress(const LeaseRef& lease, const std::string& worker_id,
                                           absl::Time now) {
  auto last = progress_logged_.find(lease.lease_id);
  if (last != progress_logged_.end() && now - last->second < kProgressEventEvery) {
    return absl::OkStatus();
  }
  COHORT_ASSIGN_OR_RETURN(std::optional<StepRecord> step, StepOfLease(lease.lease_id));
  if (!step.has_value()) return absl::OkStatus();
  COHORT_ASSIGN_OR_RETURN(std::vector<std::string> campaigns, CampaignsOfStep(step->key));
  for (const std::string& campaign : campaigns) {
    COHORT_RETURN_IF_ERROR(AppendEvent(EventType::kStepProgress, campaign, step->key,
                                       StepState::kLeased, worker_id, lease.progress_json, now));
  }
  // Leases that ended without a heartbeat saying so are forgotten in bulk.
  if (progress_logged_.size() > 100000) progress_logged_.clear();
  progress_logged_[lease.lease_id] = now;
  return absl::OkStatus();
}

absl::StatusOr<bool> CoordinatorStore::RecordArtifact(const OutputArtifact& out,
                                                     const std::string& produced_by,
                                                     absl::Time now) {
  Statement& artifact = db_->Prepare(
      "INSERT OR IGNORE INTO artifacts(digest, kind, size_bytes, is_folder, "
      "produced_by, created_us) VALUES(?, ?, ?, ?, ?, ?)");
  artifact.Bind(1, out.digest)
      .Bind(2, out.kind)
      .Bind(3, out.size_bytes)
      .Bind(4, out.is_folder ? 1 : 0);
  BindOptionalText(artifact, 5, produced_by);
  artifact.Bind(6, Micros(now));
  COHORT_RETURN_IF_ERROR(artifact.Run());
  bool added = artifact.Changes() == 1;
  for (const std::string& location : out.locations) {
    Statement& where = db_->Prepare(
        "INSERT OR IGNORE INTO artifact_locations(digest, location) VALUES(?, ?)");
    where.Bind(1, out.digest).Bind(2, location);
    COHORT_RETURN_IF_ERROR(where.Run());
  }
  return added;
}

absl::StatusOr<bool> CoordinatorStore::AddArtifact(const OutputArtifact& out,
                                                  absl::Time now) {
  Transaction tx(*db_);
  COHORT_RETURN_IF_ERROR(tx.Begin());
  COHORT_ASSIGN_OR_RETURN(bool added, RecordArtifact(out, "", now));
  COHORT_RETURN_IF_ERROR(tx.Commit());
  return added;
}

absl::StatusOr<std::vector<OutputArtifact>> CoordinatorStore::ListArtifacts(
    const std::string& campaign_id) {
  Statement& select = db_->Prepare(
      "SELECT a.digest, a.kind, a.size_bytes, a.is_folder, coalesce(o.name, '') "
      "FROM artifacts a LEFT JOIN step_outputs o ON o.digest = a.digest WHERE ?1 "
      "= '' OR o.step_id IN (SELECT step_id FROM campaign_steps WHERE "
      "campaign_id = ?1) ORDER BY a.created_us, a.digest");
  select.Bind(1, campaign_id);
  std::vector<OutputArtifact> artifacts;
  while (select.Step()) {
    OutputArtifact a;
    a.digest = select.ColumnText(0);
    a.kind = static_cast<int>(select.ColumnInt64(1));
    a.size_bytes = static_cast<uint64_t>(select.ColumnInt64(2));
    a.is_folder = select.ColumnInt64(3) != 0;
    a.name = select.ColumnText(4);
    artifacts.push_back(std::move(a));
  }
  COHORT_RETURN_IF_ERROR(select.status());
  for (OutputArtifact& a : artifacts) {
    Statement& where = db_->Prepare(
        "SELECT location FROM artifact_locations WHERE digest = ? ORDER BY location");
    where.Bind(1, a.digest);
    while (where.Step()) a.locations.push_back(where.ColumnText(0));
    COHORT_RETURN_IF_ERROR(where.status());
  }
  return artifacts;
}

absl::Status CoordinatorStore::Complete(const LeaseRef& lease,
                                        const std::vector<OutputArtifact>& outputs,
                                        absl::Time now,
                                        const std::string& gate_failed_reason,
                                        const std::string& log_tail,
                                        const std::string& facts_json) {
  Transaction tx(*db_);
  COHORT_RETURN_IF_ERROR(tx.Begin());
  COHORT_ASSIGN_OR_RETURN(StepRecord step, CurrentLease(lease, now));
  for (const OutputArtifact& out : outputs) {
    COHORT_RETURN_IF_ERROR(RecordArtifact(out, step.key, now).status());
    Statement& link = db_->Prepare(
        "INSERT OR REPLACE INTO step_outputs(step_id, name, digest) "
        "VALUES("
        "(SELECT id FROM steps WHERE id = cohort_step_id(?1) AND "
        "key = ?1), ?, ?)");
    link.Bind(1, step.key).Bind(2, out.name).Bind(3, out.digest);
    COHORT_RETURN_IF_ERROR(link.Run());
  }
  if (!log_tail.empty()) COHORT_RETURN_IF_ERROR(SetLogTail(step.key, log_tail));
  Statement& facts = db_->Prepare(
      "UPDATE steps SET facts_json = ? WHERE id = cohort_step_id(?2) AND key = ?2");
  if (facts_json.empty()) {
    facts.BindNull(1);
  } else {
    facts.Bind(1, facts_json);
  }
  facts.Bind(2, step.key);
  COHORT_RETURN_IF_ERROR(facts.Run());
  if (!gate_failed_reason.empty()) {
    Statement& note = db_->Prepare("UPDATE steps SET gate_reason = ? "
        "WHERE id = cohort_step_id(?2) AND key = ?2");
    note.Bind(1, gate_failed_reason).Bind(2, step.key);
    COHORT_RETURN_IF_ERROR(note.Run());
  }
  COHORT_RETURN_IF_ERROR(Apply(step.key, StepState::kLeased, StepEvent::kCompleted, now,
                               gate_failed_reason.empty() ? "succeeded" : "gate did not hold")
                             .status());
  if (gate_failed_reason.empty()) {
    COHORT_RETURN_IF_ERROR(PromoteChildren(step.key, now));
  } else {
    COHORT_RETURN_IF_ERROR(SkipDescendants(step.key, gate_failed_reason, now));
  }
  return tx.Commit();
}

absl::StatusOr<bool> CoordinatorStore::Fail(const LeaseRef& lease, int code,
                                            const std::string& message,
                                            absl::Time now,
                                            const std::string& log_tail,
                                            bool input_unavailable,
                                            absl::Duration live_window) {
  Transaction tx(*db_);
  COHORT_RETURN_IF_ERROR(tx.Begin());
  COHORT_ASSIGN_OR_RETURN(StepRecord step, CurrentLease(lease, now));
  if (!log_tail.empty()) COHORT_RETURN_IF_ERROR(SetLogTail(step.key, log_tail));
  if (input_unavailable) {
    COHORT_ASSIGN_OR_RETURN(std::vector<std::string> producers,
                            ProducersOfLostInputs(step, now, live_window));
    if (!producers.empty()) {
      COHORT_RETURN_IF_ERROR(RecomputeLostInputs(step, producers, now));
      COHORT_RETURN_IF_ERROR(tx.Commit());
      return true;
    }
    COHORT_ASSIGN_OR_RETURN(bool handed_back, HandBack(step, message, now));
    if (handed_back) {
      COHORT_RETURN_IF_ERROR(tx.Commit());
      return true;
    }
  }
  const RetryFacts facts{code, step.attempts, step.max_attempts};
  COHORT_ASSIGN_OR_RETURN(StepState to, Next(StepState::kLeased, StepEvent::kFailed, facts));
  const bool retry = to == StepState::kReady;
  Statement& record = db_->Prepare(
      "UPDATE steps SET last_error = ?, last_error_code = ?, not_before_us = ? "
      "WHERE id = cohort_step_id(?4) AND key = ?4");
  record.Bind(1, message)
      .Bind(2, code)
      .Bind(3, Micros(now + RetryBackoff(step.attempts)))
      .Bind(4, step.key);
  COHORT_RETURN_IF_ERROR(record.Run());
  COHORT_RETURN_IF_ERROR(Apply(step.key, StepState::kLeased, StepEvent::kFailed, now,
                               retry ? absl::StrCat("retrying: ", message) : message, facts)
                             .status());
  if (!retry) COHORT_RETURN_IF_ERROR(BlockDescendants(step.key, now));
  COHORT_RETURN_IF_ERROR(tx.Commit());
  return retry;
}

absl::Status CoordinatorStore::GiveAttemptBack(const std::string& key) {
  Statement& back = db_->Prepare(
      "UPDATE steps SET attempts = max(attempts - 1, 0) "
      "WHERE id = cohort_step_id(?1) AND key = ?1");
  back.Bind(1, key);
  return back.Run();
}

absl::Status CoordinatorStore::ReturnUndelivered(const LeaseRef& lease,
                                                absl::Time now) {
  Transaction tx(*db_);
  COHORT_RETURN_IF_ERROR(tx.Begin());
  COHORT_ASSIGN_OR_RETURN(StepRecord step, CurrentLease(lease, now));
  COHORT_RETURN_IF_ERROR(GiveAttemptBack(step.key));
  COHORT_RETURN_IF_ERROR(Apply(step.key, StepState::kLeased, StepEvent::kUndelivered, now,
                               absl::StrCat("lease ", lease.lease_id,
                                            " not delivered: the poll of worker ",
                                            step.worker_id, " was gone"))
                             .status());
  return tx.Commit();
}

absl::StatusOr<bool> CoordinatorStore::HandBack(const StepRecord& step,
                                                const std::string& message,
                                                absl::Time now) {
  Statement& waits = db_->Prepare("SELECT input_waits FROM steps "
      "WHERE id = cohort_step_id(?1) AND key = ?1");
  waits.Bind(1, step.key);
  int64_t count = waits.Step() ? waits.ColumnInt64(0) : 0;
  while (waits.Step()) {
  }
  COHORT_RETURN_IF_ERROR(waits.status());
  if (count >= kMaxInputWaits) return false;  // counts as a failure now
  Statement& back = db_->Prepare(
      "UPDATE steps SET attempts = max(attempts - 1, 0), input_waits = ?, "
      "last_error = ?, not_before_us = ? "
      "WHERE id = cohort_step_id(?4) AND key = ?4");
  back.Bind(1, count + 1)
      .Bind(2, message)
      .Bind(3, Micros(now + InputWaitBackoff(static_cast<int>(count) + 1)))
      .Bind(4, step.key);
  COHORT_RETURN_IF_ERROR(back.Run());
  COHORT_RETURN_IF_ERROR(Apply(step.key, StepState::kLeased, StepEvent::kInputUnavailable,
                               now, absl::StrCat("input unavailable, offered again: ", message))
                             .status());
  return true;
}

absl::StatusOr<std::string> CoordinatorStore::OutputDigest(const std::string& step_key,
                                                        const std::string& output) {
  Statement& select = db_->Prepare(
      "SELECT digest FROM step_outputs WHERE step_id = "
      "(SELECT id FROM steps WHERE id = cohort_step_id(?1) AND key = ?1) AND name = ?");
  select.Bind(1, step_key).Bind(2, output);
  std::string digest = select.Step() ? select.ColumnText(0) : "";
  while (select.Step()) {
  }
  COHORT_RETURN_IF_ERROR(select.status());
  return digest;
}

absl::StatusOr<std::vector<std::string>> CoordinatorStore::ProducersOfLostInputs(
    const StepRecord& step, absl::Time now, absl::Duration live_window) {
  std::vector<std::string> producers;
  COHORT_ASSIGN_OR_RETURN(std::vector<StepInput> inputs, ReadInputs(step.key));
  for (const StepInput& input : inputs) {
    if (input.source_step_key.empty()) continue;  // a client's input: no producer
    COHORT_ASSIGN_OR_RETURN(std::string digest,
                            OutputDigest(input.source_step_key, input.source_output));
    if (digest.empty()) continue;
    // Live: a shared path, or a worker that heartbeated within the window.
    Statement& locations = db_->Prepare(
        "SELECT l.location, w.last_heartbeat_us FROM artifact_locations l LEFT JOIN "
        "workers w ON l.location = 'worker:' || w.id WHERE l.digest = ?");
    locations.Bind(1, digest);
    bool live = false;
    std::vector<std::string> dead;
    while (locations.Step()) {
      const std::string location = locations.ColumnText(0);
      const bool on_worker = absl::StartsWith(location, "worker:");
      if (!on_worker || (!locations.ColumnIsNull(1) &&
                         FromMicros(locations.ColumnInt64(1)) >= now - live_window)) {
        live = true;
      } else {
        dead.push_back(location);
      }
    }
    COHORT_RETURN_IF_ERROR(locations.status());
    if (live) continue;
    for (const std::string& location : dead) {
      Statement& drop =
          db_->Prepare("DELETE FROM artifact_locations WHERE digest = ? AND location = ?");
      drop.Bind(1, digest).Bind(2, location);
      COHORT_RETURN_IF_ERROR(drop.Run());
    }
    if (std::find(producers.begin(), producers.end(), input.source_step_key) ==
        producers.end()) {
      producers.push_back(input.source_step_key);
    }
  }
  return producers;
}

absl::Status CoordinatorStore::RecomputeLostInputs(const StepRecord& step,
                                                   const std::vector<std::string>& producers,
                                                   absl::Time now) {
  COHORT_RETURN_IF_ERROR(GiveAttemptBack(step.key));  // not the step's fault
  COHORT_RETURN_IF_ERROR(
      Apply(step.key, StepState::kLeased, StepEvent::kInputLost, now,
            absl::StrCat("input lost with its worker: running ",
                         absl::StrJoin(producers, ", "), " again"))
          .status());
  for (const std::string& producer : producers) {
    COHORT_RETURN_IF_ERROR(RearmStep(producer, now, /*include_succeeded=*/true));
    COHORT_ASSIGN_OR_RETURN(std::optional<StepRecord> rearmed, ReadStep(producer));
    if (rearmed.has_value() && rearmed->state == StepState::kWaiting) {
      COHORT_RETURN_IF_ERROR(PromoteIfInputsDone(producer, now));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> CoordinatorStore::ExpireLeases(
    absl::Time now) {
  Transaction tx(*db_);
  COHORT_RETURN_IF_ERROR(tx.Begin());
  Statement& expired = db_->Prepare(absl::StrCat(
      kStepColumns, " INDEXED BY steps_leased WHERE ", kLeasedSteps,
      " AND lease_expiry_us < ?"));
  expired.Bind(1, Micros(now));
  std::vector<StepRecord> steps;
  while (expired.Step()) steps.push_back(StepFromRow(expired));
  COHORT_RETURN_IF_ERROR(expired.status());
  std::vector<std::string> keys;
  for (const StepRecord& step : steps) {
    std::string why = absl::StrCat("lease ", step.lease_id, " of worker ",
                                   step.worker_id, " expired");
    Statement& note = db_->Prepare(
        "UPDATE steps SET last_error = ?, not_before_us = ? "
        "WHERE id = cohort_step_id(?3) AND key = ?3");
    // No backoff: the worker died, not the step, and goal 1 is a re-lease
    // within 35 s of the kill.
    note.Bind(1, why).Bind(2, Micros(now)).Bind(3, step.key);
    COHORT_RETURN_IF_ERROR(note.Run());
    const RetryFacts facts{0, step.attempts, step.max_attempts};
    COHORT_ASSIGN_OR_RETURN(StepState to,
                            Next(StepState::kLeased, StepEvent::kLeaseExpired, facts));
    const bool failed = to == StepState::kFailed;
    COHORT_RETURN_IF_ERROR(Apply(step.key, StepState::kLeased, StepEvent::kLeaseExpired, now,
                                 failed ? absl::StrCat(why, "; out of attempts") : why, facts)
                               .status());
    if (failed) COHORT_RETURN_IF_ERROR(BlockDescendants(step.key, now));
    keys.push_back(step.key);
  }
  COHORT_RETURN_IF_ERROR(tx.Commit());
  return keys;
}

absl::Status CoordinatorStore::ExtendLeasesAfterRestart(absl::Time now,
                                                        absl::Duration grace) {
  Statement& extend = db_->Prepare(absl::StrCat(
      "UPDATE steps INDEXED BY steps_leased SET lease_expiry_us = "
      "max(lease_expiry_us, ?) WHERE ", kLeasedSteps));
  extend.Bind(1, Micros(now + grace));
  return extend.Run();
}

absl::StatusOr<absl::Time> CoordinatorStore::NextLeaseExpiry() {
  Statement& next = db_->Prepare(
      absl::StrCat("SELECT min(lease_expiry_us) FROM steps INDEXED BY steps_leased "
                   "WHERE ", kLeasedSteps));
  absl::Time when = absl::InfiniteFuture();
  if (next.Step() && !next.ColumnIsNull(0)) when = FromMicros(next.ColumnInt64(0));
  while (next.Step()) {
  }
  COHORT_RETURN_IF_ERROR(next.status());
  return when;
}

}  // namespace cohort::server
