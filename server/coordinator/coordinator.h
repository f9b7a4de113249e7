// File: coordinator.h
//
// The coordinator's state machine, thread-safe and free of gRPC: the store
// behind one mutex, workers waiting in long polls, watchers to wake, and the
// periodic work (lease expiry, wait deadlines). The gRPC services in
// server/service translate protos and call this class; tests drive it
// directly with a FakeClock.
//
// Long polls never block a thread: LeaseOrWait either answers at once or
// parks the callback, which a later state change (a step becoming ready) or
// Tick (the wait deadline passing) invokes exactly once, outside the lock.
//
//   Coordinator coordinator(std::move(store), clock, options);
//   coordinator.LeaseOrWait(capacity, clock.Now() + absl::Seconds(30),
//                           [](absl::StatusOr<std::optional<LeaseGrant>> r) {...});
//   ... a background thread calls coordinator.Tick() every ~100 ms.
//
// Thread-safe.
#ifndef COHORT_SERVER_COORDINATOR_COORDINATOR_H_
#define COHORT_SERVER_COORDINATOR_COORDINATOR_H_

#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "server/jobgraph/plan.h"
#include "server/store/coordinator_store.h"
#include "server/store/token_reader.h"

namespace cohort::server {

struct CoordinatorOptions {
  absl::Duration lease_duration = absl::Seconds(30);
  absl::Duration heartbeat_interval = absl::Seconds(5);
  // How long a restarted coordinator waits for workers to reattach before
  // their leases may expire.
  absl::Duration restart_grace = absl::Seconds(30);
  uint32_t default_max_attempts = 3;
  // A worker silent this long is no longer listed.
  absl::Duration forget_workers_after = absl::Hours(24);
};

using LeaseCallback =
    std::function<void(absl::StatusOr<std::optional<LeaseGrant>>)>;

// The token of an "authorization: Bearer <token>" header value (gRPC
// metadata or HTTP); empty when the value is not of that form.
std::string BearerToken(absl::string_view authorization);

class Coordinator {
 public:
  // Gives every lease found in `store` the restart grace.
  static absl::StatusOr<std::unique_ptr<Coordinator>> Create(
      std::unique_ptr<CoordinatorStore> store, Clock& clock,
      const CoordinatorOptions& options);
  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;

  const CoordinatorOptions& options() const { return options_; }

  // Campaigns.
  absl::StatusOr<SubmitOutcome> Submit(const std::string& name,
                                       const std::string& spec_json,
                                       int priority,
                                       const std::string& idempotency_key,
                                       const std::vector<NodeSpec>& nodes,
                                       bool dry_run,
                                       std::vector<PlannedStep>* planned,
                                       bool rerun = false, const std::string& owner = "");
  absl::StatusOr<CampaignRecord> GetCampaign(const std::string& id);
  // The newest `limit` campaigns; with `owner`, only its own and those
  // without an owner.
  absl::StatusOr<std::vector<CampaignRecord>> ListCampaigns(
      int limit, const std::optional<std::string>& owner = std::nullopt);
  absl::StatusOr<std::vector<StepRecord>> CampaignSteps(const std::string& id);
  absl::StatusOr<StepRecord> GetStep(const std::string& key);
  // The owners of the campaigns holding step `key`.
  absl::StatusOr<std::vector<std::string>> OwnersOfStep(const std::string& key);
  absl::Status Cancel(const std::string& id);
  absl::Status Resume(const std::string& id);
  absl::Status Retry(const std::string& key);

  // Artifacts.
  absl::StatusOr<bool> AddArtifact(const OutputArtifact& artifact);
  absl::StatusOr<std::vector<OutputArtifact>> ListArtifacts(
      const std::string& campaign_id);

  // Workers.
  // `token_hash`: the registering token's; a worker id belongs to the token
  // that first registered it (kPermissionDenied for another).
  absl::StatusOr<std::vector<LeaseGrant>> Register(const std::string& id,
                                                   const std::string& info_json,
                                                   const std::string& token_hash = "");
  absl::StatusOr<std::vector<WorkerRecord>> ListWorkers();
  // Answers with a lease now if one matches, else parks `done` until a step
  // becomes ready for this worker or `deadline` passes (then nullopt).
  void LeaseOrWait(const WorkerCapacity& worker, absl::Time deadline,
                   LeaseCallback done) ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<HeartbeatOutcome> Heartbeat(const std::string& worker_id,
                                             const std::vector<LeaseRef>& leases);
  absl::Status Complete(const LeaseRef& lease,
                        const std::vector<OutputArtifact>& outputs,
                        const std::string& gate_failed_reason = "",
                        const std::string& log_tail = "",
                        const std::string& facts_json = "");
  absl::StatusOr<bool> Fail(const LeaseRef& lease, int code,
                            const std::string& message,
                            const std::string& log_tail = "",
                            bool input_unavailable = false);
  // A lease granted to a long poll whose caller was already gone (the
  // worker died while parked): the step goes back to READY at once and the
  // attempt is not counted. The epoch stays spent, so the grant is fenced.
  absl::Status ReturnUndelivered(const LeaseRef& lease);
  absl::StatusOr<InsertOutcome> InsertResults(const LeaseRef& lease,
                                              const std::vector<ResultRow>& rows);
  absl::StatusOr<std::vector<StoredResult>> Results(const std::string& step_key,
                                                    const std::string& problem_id = "");
  // The store's read views (CoordinatorStore::TallyCampaign and the rest),
  // each under the lock for one query only.
  absl::StatusOr<CampaignTally> TallyCampaign(const std::string& campaign_id);
  absl::StatusOr<std::map<std::string, VerdictTally>> TallyScores(const std::string& campaign_id);
  absl::StatusOr<std::vector<StepRecord>> CampaignStepStates(const std::string& campaign_id);
  absl::StatusOr<std::vector<GridCell>> CampaignGrid(const std::string& campaign_id);
  absl::StatusOr<std::vector<StepRecord>> CampaignStepsIn(const std::string& campaign_id,
                                                          StepState state, int64_t limit);
  absl::StatusOr<std::vector<StepLabel>> CampaignScoreLabels(const std::string& campaign_id);
  absl::StatusOr<int64_t> UnlabelledSteps(const std::string& campaign_id);
  absl::Status LabelSteps(const std::string& campaign_id, const std::vector<StepLabel>& labels);
  absl::StatusOr<std::vector<ResultRow>> ResultLengths(const std::string& step_key);
  absl::StatusOr<std::vector<StepRecord>> LeasedSteps();

  // Watch feed.
  absl::StatusOr<std::vector<EventRecord>> Events(const std::string& campaign_id,
                                                  uint64_t after_cursor,
                                                  int limit);
  absl::StatusOr<uint64_t> LastCursor();
  // `notify` is called (outside the lock, from any thread) after every
  // committed change. Returns an id for Unsubscribe.
  uint64_t Subscribe(std::function<void()> notify) ABSL_LOCKS_EXCLUDED(mu_);
  void Unsubscribe(uint64_t id) ABSL_LOCKS_EXCLUDED(mu_);

  // Periodic work: expires leases, serves waiters whose steps came out of
  // backoff, answers waiters whose deadline passed. Call every ~100 ms.
  void Tick() ABSL_LOCKS_EXCLUDED(mu_);
  // Answers every parked waiter with kUnavailable (shutdown).
  void CancelWaiters() ABSL_LOCKS_EXCLUDED(mu_);

  // Auth: creates a token for `role` ("client", "worker", "admin") and
  // returns its plaintext (shown once; only its sha256 is stored).
  // `worker_id` (worker tokens only): the one worker id the token may act as.
  absl::StatusOr<std::string> CreateToken(const std::string& role,
                                          const std::string& name,
                                          std::optional<absl::Duration> ttl,
                                          const std::string& worker_id = "");
  // Who presents `token`: its role, the identity campaigns are owned by
  // (the token's name, else "token <first 12 hex of its id>"), its hash and
  // the worker id it was issued for. kUnauthenticated when missing, unknown
  // or expired (the message says which).
  struct Caller {
    std::string role;
    std::string identity;
    std::string token_hash;
    std::string worker_id;  // a token issued for one worker id
  };
  absl::StatusOr<Caller> Identify(const std::string& token);
  // OK when `caller` may act as worker `worker_id`: the id is the one its
  // token was issued for (if any), and the token that registered the id.
  // kNotFound for an unregistered worker, kPermissionDenied otherwise.
  absl::Status CheckActsAsWorker(const Caller& caller, const std::string& worker_id);
  // CheckActsAsWorker for the worker holding `lease_id` (OK when no step
  // holds it: the lease check that follows says why it is stale).
  absl::Status CheckHoldsLease(const Caller& caller, const std::string& lease_id);
  // Campaigns belong to the client identity that submitted them: OK when
  // `caller` may see and change campaign `id` (an admin any; a client its
  // own, and those submitted before owners were kept, owner ''). kNotFound
  // when there is none. The gRPC API and the dashboard both ask this.
  absl::Status CheckCampaignAccess(const Caller& caller, const std::string& id);
  // OK when the caller owns a campaign that holds step `key` (admins: any).
  absl::Status CheckStepAccess(const Caller& caller, const std::string& key);

  // Counters for metrics.
  struct Stats {
    uint64_t leases_granted = 0;
    uint64_t leases_expired = 0;
    uint64_t results_inserted = 0;
    uint64_t results_duplicate = 0;
    size_t waiting_workers = 0;
  };
  Stats GetStats() ABSL_LOCKS_EXCLUDED(mu_);
  // Steps by state (for metrics).
  absl::StatusOr<std::map<StepState, int64_t>> StepCounts();

 private:
  struct Waiter {
    WorkerCapacity worker;
    absl::Time deadline;
    LeaseCallback done;
  };
  // A callback to run once the lock is released.
  using Deferred = std::vector<std::function<void()>>;

  Coordinator(std::unique_ptr<CoordinatorStore> store,
              std::unique_ptr<TokenReader> tokens, Clock& clock,
              const CoordinatorOptions& options)
      : store_(std::move(store)), tokens_(std::move(tokens)), clock_(clock),
        options_(options) {}

  // Tries to hand ready steps to parked waiters, oldest first.
  void ServeWaiters(Deferred& deferred) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues a notification of every subscriber.
  void NotifyWatchers(Deferred& deferred) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After a state change: serve waiters and wake watchers.
  void AfterChange(Deferred& deferred) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static void Run(Deferred& deferred);
  // Runs `write` (a store call) under the lock; when it succeeds, serves
  // waiters and wakes watchers once the lock is released.
  template <typename StoreWrite>
  auto Change(StoreWrite write) ABSL_LOCKS_EXCLUDED(mu_) {
    Deferred deferred;
    auto result = [&]() {
      absl::MutexLock lock(&mu_);
      auto written = write();
      if (written.ok()) AfterChange(deferred);
      return written;
    }();
    Run(deferred);
    return result;
  }

  absl::Mutex mu_;
  std::unique_ptr<CoordinatorStore> store_ ABSL_GUARDED_BY(mu_);
  // Token lookups on a connection of their own, outside mu_; null for an
  // in-memory database (a second connection would see another database).
  const std::unique_ptr<TokenReader> tokens_;
  Clock& clock_;
  const CoordinatorOptions options_;
  std::list<Waiter> waiters_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, std::function<void()>> watchers_ ABSL_GUARDED_BY(mu_);
  uint64_t next_watcher_id_ ABSL_GUARDED_BY(mu_) = 1;
  Stats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_COORDINATOR_COORDINATOR_H_
