#include "server/coordinator/coordinator.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/random.h"
#include "common/sha256.h"
#include "common/status_macros.h"

namespace cohort::server {

absl::StatusOr<std::unique_ptr<Coordinator>> Coordinator::Create(
    std::unique_ptr<CoordinatorStore> store, Clock& clock,
    const CoordinatorOptions& options) {
  // Workers could not heartbeat while we were down: give them time to
  // reattach before judging them dead.
  COHORT_RETURN_IF_ERROR(
      store->ExtendLeasesAfterRestart(clock.Now(), options.restart_grace));
  std::unique_ptr<TokenReader> tokens;
  const std::string& path = store->db().path();
  if (!path.empty() && path != ":memory:") {
    COHORT_ASSIGN_OR_RETURN(tokens, TokenReader::Open(path));
  }
  return std::unique_ptr<Coordinator>(
      new Coordinator(std::move(store), std::move(tokens), clock, options));
}

void Coordinator::Run(Deferred& deferred) {
  for (auto& fn : deferred) fn();
  deferred.clear();
}

void Coordinator::NotifyWatchers(Deferred& deferred) {
  for (const auto& [id, notify] : watchers_) deferred.push_back(notify);
}

void Coordinator::AfterChange(Deferred& deferred) {
  ServeWaiters(deferred);
  NotifyWatchers(deferred);
}

void Coordinator::ServeWaiters(Deferred& deferred) {
  // One transaction for every grant of this round (a burst of ready steps
  // costs one commit, not one per worker), and nothing at all when no step
  // is ready: not a lease attempt per parked worker per change and per tick.
  if (waiters_.empty()) return;
  std::vector<WorkerCapacity> workers;
  workers.reserve(waiters_.size());
  for (const Waiter& w : waiters_) workers.push_back(w.worker);
  absl::StatusOr<std::vector<std::optional<LeaseGrant>>> grants =
      store_->LeaseMany(workers, clock_.Now(), options_.lease_duration);
  if (!grants.ok()) {
    // Nothing was leased; the oldest waiter hears why, the others stay.
    LeaseCallback done = std::move(waiters_.front().done);
    waiters_.pop_front();
    deferred.push_back([done = std::move(done), status = grants.status()] {
      done(status);
    });
    return;
  }
  auto it = waiters_.begin();
  for (std::optional<LeaseGrant>& grant : *grants) {
    if (!grant.has_value()) {
      ++it;
      continue;
    }
    ++stats_.leases_granted;
    LeaseCallback done = std::move(it->done);
    it = waiters_.erase(it);
    deferred.push_back([done = std::move(done), grant = std::move(grant)]() mutable {
      done(std::move(grant));
    });
  }
}

absl::StatusOr<SubmitOutcome> Coordinator::Submit(
    const std::string& name, const std::string& spec_json, int priority,
    const std::string& idempotency_key, const std::vector<NodeSpec>& nodes,
    bool dry_run, std::vector<PlannedStep>* planned, bool rerun, const std::string& owner) {
  COHORT_ASSIGN_OR_RETURN(
      std::unique_ptr<CampaignPlanner> planner,
      CampaignPlanner::Create(nodes, options_.default_max_attempts));
  // A big campaign is planned on a second thread while the store writes
  // the steps already planned; a small one is not worth the thread.
  constexpr size_t kPlanBesideStore = 8192;
  std::unique_ptr<BackgroundPlanner> background;
  std::vector<PlannedStep> steps;
  if (!dry_run && planner->size() >= kPlanBesideStore) {
    background = std::make_unique<BackgroundPlanner>(std::move(planner));
  } else {
    COHORT_ASSIGN_OR_RETURN(steps, planner->PlanRest());
  }
  Deferred deferred;
  absl::StatusOr<SubmitOutcome> outcome;
  {
    absl::MutexLock lock(&mu_);
    if (dry_run) {
      outcome = store_->DryRun(steps);
    } else if (background != nullptr) {
      outcome = store_->SubmitCampaign(
          name, spec_json, priority, idempotency_key, background->steps(),
          clock_.Now(), rerun, [&](size_t n) { return background->WaitFor(n); }, owner);
    } else {
      outcome = store_->SubmitCampaign(name, spec_json, priority, idempotency_key,
                                       steps, clock_.Now(), rerun, nullptr, owner);
    }
    if (outcome.ok() && !dry_run) AfterChange(deferred);
  }
  Run(deferred);
  if (planned != nullptr) {
    if (background != nullptr && outcome.ok() &&
        background->WaitFor(background->size()).ok()) {
      steps = background->TakeSteps();
    }
    *planned = std::move(steps);
  }
  return outcome;
}

absl::StatusOr<CampaignRecord> Coordinator::GetCampaign(const std::string& id) {
  absl::MutexLock lock(&mu_);
  return store_->GetCampaign(id);
}

absl::StatusOr<std::vector<CampaignRecord>> Coordinator::ListCampaigns(
    int limit, const std::optional<std::string>& owner) {
  absl::MutexLock lock(&mu_);
  return store_->ListCampaigns(limit, owner);
}

absl::StatusOr<std::vector<StepRecord>> Coordinator::CampaignSteps(
    const std::string& id) {
  absl::MutexLock lock(&mu_);
  return store_->CampaignSteps(id);
}

absl::StatusOr<StepRecord> Coordinator::GetStep(const std::string& key) {
  absl::MutexLock lock(&mu_);
  return store_->GetStep(key);
}

absl::StatusOr<std::vector<std::string>> Coordinator::OwnersOfStep(const std::string& key) {
  absl::MutexLock lock(&mu_);
  return store_->OwnersOfStep(key);
}

absl::Status Coordinator::Cancel(const std::string& id) {
  return Change([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return store_->CancelCampaign(id, clock_.Now());
  });
}

absl::Status Coordinator::Resume(const std::string& id) {
  return Change([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return store_->ResumeCampaign(id, clock_.Now());
  });
}

absl::Status Coordinator::Retry(const std::string& key) {
  return Change([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return store_->RetryStep(key, clock_.Now());
  });
}

absl::StatusOr<bool> Coordinator::AddArtifact(const OutputArtifact& artifact) {
  absl::MutexLock lock(&mu_);
  return store_->AddArtifact(artifact, clock_.Now());
}

absl::StatusOr<std::vector<OutputArtifact>> Coordinator::ListArtifacts(
    const std::string& campaign_id) {
  absl::MutexLock lock(&mu_);
  return store_->ListArtifacts(campaign_id);
}

absl::StatusOr<std::vector<LeaseGrant>> Coordinator::Register(
    const std::string& id, const std::string& info_json, const std::string& token_hash) {
  Deferred deferred;
  absl::StatusOr<std::vector<LeaseGrant>> held;
  {
    absl::MutexLock lock(&mu_);
    held = store_->RegisterWorker(id, info_json, clock_.Now(), token_hash);
    if (held.ok()) NotifyWatchers(deferred);
  }
  Run(deferred);
  return held;
}

absl::StatusOr<std::vector<WorkerRecord>> Coordinator::ListWorkers() {
  absl::MutexLock lock(&mu_);
  return store_->ListWorkers();
}

void Coordinator::LeaseOrWait(const WorkerCapacity& worker, absl::Time deadline,
                              LeaseCallback done) {
  Deferred deferred;
  {
    absl::MutexLock lock(&mu_);
    absl::StatusOr<std::optional<LeaseGrant>> grant =
        store_->LeaseNext(worker, clock_.Now(), options_.lease_duration);
    if (!grant.ok() || grant->has_value() || deadline <= clock_.Now()) {
      if (grant.ok() && grant->has_value()) {
        ++stats_.leases_granted;
        NotifyWatchers(deferred);
      }
      deferred.push_back([done = std::move(done), grant = std::move(grant)]() mutable {
        done(std::move(grant));
      });
    } else {
      // One parked poll per worker: a newer poll replaces an older one,
      // which is answered empty (the worker gave up on it).
      for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
        if (it->worker.worker_id == worker.worker_id) {
          LeaseCallback old = std::move(it->done);
          waiters_.erase(it);
          deferred.push_back([old = std::move(old)] { old(std::optional<LeaseGrant>()); });
          break;
        }
      }
      waiters_.push_back({worker, deadline, std::move(done)});
    }
  }
  Run(deferred);
}

absl::StatusOr<HeartbeatOutcome> Coordinator::Heartbeat(
    const std::string& worker_id, const std::vector<LeaseRef>& leases) {
  absl::MutexLock lock(&mu_);
  return store_->Heartbeat(worker_id, leases, clock_.Now(),
                           options_.lease_duration);
}

absl::Status Coordinator::Complete(const LeaseRef& lease,
                                   const std::vector<OutputArtifact>& outputs,
                                   const std::string& gate_failed_reason,
                                   const std::string& log_tail,
                                   const std::string& facts_json) {
  return Change([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return store_->Complete(lease, outputs, clock_.Now(), gate_failed_reason,
                            log_tail, facts_json);
  });
}

absl::StatusOr<bool> Coordinator::Fail(const LeaseRef& lease, int code,
                                       const std::string& message,
                                       const std::string& log_tail,
                                       bool input_unavailable) {
  return Change([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return store_->Fail(lease, code, message, clock_.Now(), log_tail,
                        input_unavailable, options_.lease_duration);
  });
}

absl::Status Coordinator::ReturnUndelivered(const LeaseRef& lease) {
  return Change([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return store_->ReturnUndelivered(lease, clock_.Now());
  });
}

absl::StatusOr<InsertOutcome> Coordinator::InsertResults(
    const LeaseRef& lease, const std::vector<ResultRow>& rows) {
  Deferred deferred;
  absl::StatusOr<InsertOutcome> outcome;
  {
    absl::MutexLock lock(&mu_);
    outcome = store_->InsertResults(lease, rows, clock_.Now());
    if (outcome.ok()) {
      stats_.results_inserted += outcome->inserted;
      stats_.results_duplicate += outcome->duplicates;
    }
  }
  Run(deferred);
  return outcome;
}

absl::StatusOr<std::vector<StoredResult>> Coordinator::Results(
    const std::string& step_key, const std::string& problem_id) {
  absl::MutexLock lock(&mu_);
  return store_->Results(step_key, problem_id);
}

absl::StatusOr<CampaignTally> Coordinator::TallyCampaign(const std::string& campaign_id) {
  absl::MutexLock lock(&mu_);
  return store_->TallyCampaign(campaign_id);
}

absl::StatusOr<std::map<std::string, VerdictTally>> Coordinator::TallyScores(
    const std::string& campaign_id) {
  absl::MutexLock lock(&mu_);
  return store_->TallyScores(campaign_id);
}

absl::StatusOr<std::vector<StepRecord>> Coordinator::CampaignStepStates(
    const std::string& campaign_id) {
  absl::MutexLock lock(&mu_);
  return store_->CampaignStepStates(campaign_id);
}

absl::StatusOr<std::vector<GridCell>> Coordinator::CampaignGrid(const std::string& campaign_id) {
  absl::MutexLock lock(&mu_);
  return store_->CampaignGrid(campaign_id);
}

absl::StatusOr<std::vector<StepRecord>> Coordinator::CampaignStepsIn(
    const std::string& campaign_id, StepState state, int64_t limit) {
  absl::MutexLock lock(&mu_);
  return store_->CampaignStepsIn(campaign_id, state, limit);
}

absl::StatusOr<std::vector<StepLabel>> Coordinator::CampaignScoreLabels(
    const std::string& campaign_id) {
  absl::MutexLock lock(&mu_);
  return store_->CampaignScoreLabels(campaign_id);
}

absl::StatusOr<int64_t> Coordinator::UnlabelledSteps(const std::string& campaign_id) {
  absl::MutexLock lock(&mu_);
  return store_->UnlabelledSteps(campaign_id);
}

absl::Status Coordinator::LabelSteps(const std::string& campaign_id,
                                     const std::vector<StepLabel>& labels) {
  absl::MutexLock lock(&mu_);
  return store_->LabelSteps(campaign_id, labels);
}

absl::StatusOr<std::vector<ResultRow>> Coordinator::ResultLengths(const std::string& step_key) {
  absl::MutexLock lock(&mu_);
  return store_->ResultLengths(step_key);
}

absl::StatusOr<std::vector<StepRecord>> Coordinator::LeasedSteps() {
  absl::MutexLock lock(&mu_);
  return store_->LeasedSteps();
}

absl::StatusOr<std::vector<EventRecord>> Coordinator::Events(
    const std::string& campaign_id, uint64_t after_cursor, int limit) {
  absl::MutexLock lock(&mu_);
  return store_->Events(campaign_id, after_cursor, limit);
}

absl::StatusOr<uint64_t> Coordinator::LastCursor() {
  absl::MutexLock lock(&mu_);
  return store_->LastCursor();
}

uint64_t Coordinator::Subscribe(std::function<void()> notify) {
  absl::MutexLock lock(&mu_);
  uint64_t id = next_watcher_id_++;
  watchers_[id] = std::move(notify);
  return id;
}

void Coordinator::Unsubscribe(uint64_t id) {
  absl::MutexLock lock(&mu_);
  watchers_.erase(id);
}

void Coordinator::Tick() {
  Deferred deferred;
  {
    absl::MutexLock lock(&mu_);
    absl::Time now = clock_.Now();
    absl::StatusOr<std::vector<std::string>> expired = store_->ExpireLeases(now);
    if (expired.ok()) stats_.leases_expired += expired->size();
    // Steps leave backoff with time alone, so waiters are retried each tick.
    ServeWaiters(deferred);
    if (expired.ok() && !expired->empty()) NotifyWatchers(deferred);
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (it->deadline > now) {
        ++it;
        continue;
      }
      LeaseCallback done = std::move(it->done);
      it = waiters_.erase(it);
      deferred.push_back([done = std::move(done)] { done(std::optional<LeaseGrant>()); });
    }
  }
  Run(deferred);
}

void Coordinator::CancelWaiters() {
  Deferred deferred;
  {
    absl::MutexLock lock(&mu_);
    for (Waiter& w : waiters_) {
      deferred.push_back([done = std::move(w.done)] {
        done(absl::UnavailableError("coordinator shutting down"));
      });
    }
    waiters_.clear();
  }
  Run(deferred);
}

absl::StatusOr<std::string> Coordinator::CreateToken(
    const std::string& role, const std::string& name,
    std::optional<absl::Duration> ttl, const std::string& worker_id) {
  if (role != "client" && role != "worker" && role != "admin") {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown role '", role, "' (expected client, worker or admin)"));
  }
  if (!worker_id.empty() && role != "worker") {
    return absl::InvalidArgumentError("--worker-id is for worker tokens");
  }
  std::string token = absl::StrCat("cht_", role, "_", SecureRandomHex(24));
  absl::MutexLock lock(&mu_);
  absl::Time now = clock_.Now();
  std::optional<absl::Time> expires;
  if (ttl.has_value()) expires = now + *ttl;
  COHORT_RETURN_IF_ERROR(
      store_->AddToken(Sha256Hex(token), role, name, now, expires, worker_id));
  return token;
}

absl::StatusOr<Coordinator::Caller> Coordinator::Identify(const std::string& token) {
  if (token.empty()) return absl::UnauthenticatedError("missing bearer token");
  std::string hash = Sha256Hex(token);
  absl::StatusOr<TokenRecord> found;
  if (tokens_ != nullptr) {
    found = tokens_->TokenOf(hash, clock_.Now());
  } else {
    absl::MutexLock lock(&mu_);
    found = store_->TokenOf(hash, clock_.Now());
  }
  COHORT_ASSIGN_OR_RETURN(TokenRecord record, std::move(found));
  Caller caller;
  caller.role = record.role;
  caller.identity = record.name.empty() ? "token " + record.hash.substr(0, 12) : record.name;
  caller.token_hash = record.hash;
  caller.worker_id = record.worker_id;
  return caller;
}

std::string BearerToken(absl::string_view authorization) {
  constexpr absl::string_view kBearer = "Bearer ";
  if (!absl::StartsWith(authorization, kBearer)) return "";
  return std::string(authorization.substr(kBearer.size()));
}

absl::Status Coordinator::CheckCampaignAccess(const Caller& caller, const std::string& id) {
  if (caller.role == "admin") return absl::OkStatus();
  COHORT_ASSIGN_OR_RETURN(CampaignRecord campaign, GetCampaign(id));
  if (campaign.owner.empty() || campaign.owner == caller.identity) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat("campaign ", id, " belongs to another client"));
}

absl::Status Coordinator::CheckStepAccess(const Caller& caller, const std::string& key) {
  if (caller.role == "admin") return absl::OkStatus();
  COHORT_ASSIGN_OR_RETURN(std::vector<std::string> owners, OwnersOfStep(key));
  if (owners.empty()) return absl::NotFoundError(absl::StrCat("no step ", key));
  for (const std::string& owner : owners) {
    if (owner.empty() || owner == caller.identity) return absl::OkStatus();
  }
  return absl::PermissionDeniedError(
      absl::StrCat("step ", key, " belongs to other clients' campaigns"));
}

absl::Status Coordinator::CheckActsAsWorker(const Caller& caller, const std::string& worker_id) {
  if (caller.role == "admin") return absl::OkStatus();
  if (!caller.worker_id.empty() && caller.worker_id != worker_id) {
    return absl::PermissionDeniedError(absl::StrCat(
        "this worker token is for worker ", caller.worker_id, ", not ", worker_id));
  }
  std::string bound;
  {
    absl::MutexLock lock(&mu_);
    COHORT_ASSIGN_OR_RETURN(bound, store_->TokenOfWorker(worker_id));
  }
  if (!bound.empty() && bound != caller.token_hash) {
    return absl::PermissionDeniedError(
        absl::StrCat("worker ", worker_id, " belongs to another worker token"));
  }
  return absl::OkStatus();
}

absl::Status Coordinator::CheckHoldsLease(const Caller& caller, const std::string& lease_id) {
  if (caller.role == "admin") return absl::OkStatus();
  std::string worker;
  {
    absl::MutexLock lock(&mu_);
    COHORT_ASSIGN_OR_RETURN(worker, store_->WorkerOfLease(lease_id));
  }
  if (worker.empty()) return absl::OkStatus();
  return CheckActsAsWorker(caller, worker);
}

Coordinator::Stats Coordinator::GetStats() {
  absl::MutexLock lock(&mu_);
  Stats stats = stats_;
  stats.waiting_workers = waiters_.size();
  return stats;
}

absl::StatusOr<std::map<StepState, int64_t>> Coordinator::StepCounts() {
  absl::MutexLock lock(&mu_);
  return store_->StepCounts();
}

}  // namespace cohort::server
