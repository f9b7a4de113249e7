// File: coordinator_store.h
//
// The coordinator's state in one SQLite file: campaigns, steps (shared
// between campaigns by key) and their inputs, artifacts and where they live,
// workers, per-problem results and the event log. Every method that changes
// state is one BEGIN IMMEDIATE transaction that also appends the events
// describing the change, so a change is committed before anyone can be told
// about it, and the event log never disagrees with the tables.
//
// Lease protocol: LeaseNext hands a READY step to a worker, bumping the
// step's lease epoch; Heartbeat extends the expiry of live leases; Complete,
// Fail and InsertResults carry (lease id, epoch) and are refused with
// kFailedPrecondition when the lease is no longer the step's current one
// (expired and re-leased, cancelled). ExpireLeases puts the steps of dead
// workers back to READY.
//
// Not thread-safe: owned by the Coordinator, which calls it under its mutex.
#ifndef COHORT_SERVER_STORE_COORDINATOR_STORE_H_
#define COHORT_SERVER_STORE_COORDINATOR_STORE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "server/jobgraph/lifecycle.h"
#include "server/jobgraph/matching.h"
#include "server/jobgraph/step.h"
#include "server/store/step_index.h"
#include "common/sqlite/database.h"

namespace cohort::server {

using ::cohort::Database;
using ::cohort::DatabaseOptions;
using ::cohort::Checkpoint;
using ::cohort::Durability;
using ::cohort::Statement;
using ::cohort::Transaction;

enum class CampaignState : int {
  kUnspecified = 0,
  kRunning = 1,
  kSucceeded = 2,
  kFailed = 3,
  kCancelled = 4,
};

enum class EventType : int {
  kUnspecified = 0,
  kCampaignSubmitted = 1,
  kCampaignFinished = 2,
  kStepState = 3,
  kStepProgress = 4,
  kWorkerJoined = 5,
  kWorkerLost = 6,
};

// A bearer token as stored: its sha256 (hex), never the token itself.
struct TokenRecord {
  std::string hash;
  std::string role;
  std::string name;
  absl::Time created;
  std::optional<absl::Time> expires;  // nullopt: never
  std::string worker_id;  // a worker token issued for this worker id only; '' any
};

struct CampaignRecord {
  std::string id;
  std::string name;
  CampaignState state = CampaignState::kUnspecified;
  std::string spec_json;
  int priority = 0;
  int64_t unfinished = 0;
  // The client identity that submitted it ('' before owners were kept).
  std::string owner;
  absl::Time created;
  std::optional<absl::Time> finished;
};

struct OutputArtifact {
  std::string name;           // the step's output name ("checkpoint", ...)
  std::string digest;         // sha256:<hex>
  int kind = 0;               // cohort.v1.ArtifactKind
  uint64_t size_bytes = 0;
  bool is_folder = false;
  std::vector<std::string> locations;  // "worker:<id>" or "path:<path>"
};

struct StepRecord {
  std::string key;
  StepKind kind = StepKind::kUnspecified;
  std::string params_json;
  std::string impl_version;
  StepState state = StepState::kUnspecified;
  uint32_t attempts = 0;
  uint32_t max_attempts = 0;
  std::string lease_id;
  uint64_t lease_epoch = 0;
  absl::Time lease_expiry = absl::InfinitePast();
  std::string worker_id;
  Requirements requirements;
  int priority = 0;
  std::string display_name;
  std::string last_error;
  std::string progress_json;
  std::string gate_reason;  // why a gate did not hold / why this was skipped
  std::string log_tail;     // the end of the tool log its worker reported
  std::string facts_json;   // what its worker measured of the outputs (opaque)
  std::string node_id;      // filled by CampaignSteps: the campaign's node
  std::string model;        // and its labels (PlannedStep::model, suite)
  std::string suite;
  std::optional<absl::Time> started;  // filled by CampaignStepStates
  // Filled by CampaignSteps: what a succeeded step produced, by output name
  // (locations left out; ListArtifacts has them).
  std::vector<OutputArtifact> outputs;
  std::vector<StepInput> inputs;
};

struct SubmitOutcome {
  std::string campaign_id;
  bool already_submitted = false;  // idempotency key seen before
  uint32_t steps_total = 0;        // distinct steps
  uint32_t steps_cached = 0;       // already succeeded under the same key
  uint32_t steps_to_run = 0;
  // Each distinct step's state after the submit (for a dry run: as stored,
  // absent when new), so a reply needs no read-back per step.
  absl::flat_hash_map<std::string, StepState> step_states;
};


struct LeaseGrant {
  std::string lease_id;
  uint64_t epoch = 0;
  absl::Time expiry;
  StepRecord step;
  // Each input's artifact (resolved from upstream outputs) with locations.
  std::vector<std::pair<std::string, OutputArtifact>> inputs;
};

struct LeaseRef {
  std::string lease_id;
  uint64_t epoch = 0;
  std::string progress_json;  // optional progress to record
};

struct HeartbeatOutcome {
  std::vector<std::string> renewed;
  std::vector<std::string> revoked;
  absl::Time new_expiry;
};

struct ResultRow {
  std::string problem_id;
  uint32_t sample_index = 0;
  int verdict = 0;  // cohort.v1.Verdict
  std::string finish_reason;
  uint64_t completion_tokens = 0;
  uint64_t reasoning_tokens = 0;
  uint64_t completion_chars = 0;
  std::string extracted_answer;
  std::string scorer_version;
  std::string body;  // the full result, serialized by the service
  // nullopt in rows stored before schema 10 (the body has it).
  std::optional<uint64_t> reasoning_chars;
};

struct StoredResult {
  std::string step_key;
  ResultRow row;
};

struct InsertOutcome {
  uint32_t inserted = 0;
  uint32_t duplicates = 0;
};

struct EventRecord {
  uint64_t cursor = 0;
  EventType type = EventType::kUnspecified;
  absl::Time time;
  std::string campaign_id;
  std::string step_key;
  StepState step_state = StepState::kUnspecified;
  std::string worker_id;
  std::string message;
};

struct CampaignTally {
  std::map<StepState, int64_t> steps;
  int64_t workers = 0;  // distinct workers holding its leased steps
  std::optional<absl::Time> first_started;
};

// Steps of a campaign by their node's model, kind and state.
struct GridCell {
  std::string model;  // '' for steps without a label
  StepKind kind = StepKind::kUnspecified;
  StepState state = StepState::kWaiting;
  int64_t steps = 0;
};

// What a campaign's node of a step is for (StepSpec.model, .suite).
struct StepLabel {
  std::string key;
  std::string model;
  std::string suite;
};

struct VerdictTally {
  std::map<int, int64_t> by_verdict;  // cohort.v1.Verdict -> rows
  std::vector<std::string> error_bodies;
};

struct WorkerRecord {
  std::string id;
  std::string info_json;
  absl::Time registered;
  absl::Time last_heartbeat;
};

class CoordinatorStore {
 public:
  // Opens or creates the database at `path` and migrates it.
  static absl::StatusOr<std::unique_ptr<CoordinatorStore>> Open(
      const std::string& path, const DatabaseOptions& options);

  // --- campaigns ---------------------------------------------------------
  // Stores the campaign and its steps. Steps whose key exists are shared;
  // existing failed/blocked/cancelled ones are re-armed. With a non-empty
  // `idempotency_key` seen before, returns the earlier campaign unchanged.
  // With `rerun`, succeeded steps are re-armed too.
  //
  // With `ready`, `steps` are being planned on another thread while this
  // runs (sized up front, filled in order): steps[i] is read only once
  // ready(n) returned more than i; ready(n) blocks until min(n,
  // steps.size()) are planned, or returns the planning error (which rolls
  // the submit back).
  using StepsReady = std::function<absl::StatusOr<size_t>(size_t n)>;
  absl::StatusOr<SubmitOutcome> SubmitCampaign(
      const std::string& name, const std::string& spec_json, int priority,
      const std::string& idempotency_key, const std::vector<PlannedStep>& steps,
      absl::Time now, bool rerun = false, const StepsReady& ready = nullptr,
      const std::string& owner = "");
  // The owners of the campaigns that hold the step `key` (an unknown key:
  // none).
  absl::StatusOr<std::vector<std::string>> OwnersOfStep(const std::string& key);
  // Stores the tail of a step's log (bounded by the caller).
  absl::Status SetLogTail(const std::string& key, const std::string& tail);
  // Counts what SubmitCampaign would reuse, without writing.
  absl::StatusOr<SubmitOutcome> DryRun(const std::vector<PlannedStep>& steps);
  absl::StatusOr<CampaignRecord> GetCampaign(const std::string& id);
  // The newest `limit` campaigns; with `owner`, only that owner's and
  // those without one.
  absl::StatusOr<std::vector<CampaignRecord>> ListCampaigns(
      int limit, const std::optional<std::string>& owner = std::nullopt);
  absl::StatusOr<std::vector<StepRecord>> CampaignSteps(const std::string& id);
  absl::StatusOr<StepRecord> GetStep(const std::string& key);
  // Cancels the campaign's unfinished steps that no other running campaign
  // needs. kNotFound for an unknown id.
  absl::Status CancelCampaign(const std::string& id, absl::Time now);
  // Puts failed, blocked, skipped and cancelled steps back to waiting (ready
  // where their inputs are done), attempts reset.
  absl::Status ResumeCampaign(const std::string& id, absl::Time now);
  // Re-arms one failed/blocked step and its blocked descendants, its attempt
  // count started over (a step that used its attempts could not run again
  // otherwise).
  absl::Status RetryStep(const std::string& key, absl::Time now);

  // Records an artifact (a user input, or a location of a known one).
  // Returns whether the digest was new.
  absl::StatusOr<bool> AddArtifact(const OutputArtifact& artifact, absl::Time now);
  // Artifacts produced by the steps of a campaign, or every artifact.
  absl::StatusOr<std::vector<OutputArtifact>> ListArtifacts(
      const std::string& campaign_id);

  // --- workers and leases ------------------------------------------------
  // Upserts the worker; returns the leases it still holds. A worker id
  // belongs to the token (hash) that first registered it: another token's
  // Register is kPermissionDenied.
  absl::StatusOr<std::vector<LeaseGrant>> RegisterWorker(
      const std::string& id, const std::string& info_json, absl::Time now,
      const std::string& token_hash = "");
  // The token hash a worker id belongs to; kNotFound for an unknown worker.
  absl::StatusOr<std::string> TokenOfWorker(const std::string& id);
  // The worker holding lease `lease_id`; "" when no step holds that lease.
  absl::StatusOr<std::string> WorkerOfLease(const std::string& lease_id);
  absl::StatusOr<std::vector<WorkerRecord>> ListWorkers();
  // Whether any READY step is out of backoff at `now` (one indexed lookup;
  // lets the coordinator skip offering nothing to every parked worker).
  absl::StatusOr<bool> HasReadyStep(absl::Time now);
  // Leases the best READY step `worker` can run, if any.
  absl::StatusOr<std::optional<LeaseGrant>> LeaseNext(
      const WorkerCapacity& worker, absl::Time now, absl::Duration duration);
  // LeaseNext for each of `workers` in order, in one transaction (one
  // commit, so one fsync under FULL, for a burst of grants). Stops as soon as
  // no READY step is left: the result has one entry per worker considered
  // (a prefix of `workers`), a grant or nullopt. On error nothing is leased.
  absl::StatusOr<std::vector<std::optional<LeaseGrant>>> LeaseMany(
      const std::vector<WorkerCapacity>& workers, absl::Time now,
      absl::Duration duration);
  // Renews live leases and stores their progress; a lease's changed progress
  // is also logged as a STEP_PROGRESS event for each campaign of its step,
  // at most once per kProgressEventEvery (the watch feed, kept small).
  absl::StatusOr<HeartbeatOutcome> Heartbeat(const std::string& worker_id,
                                             const std::vector<LeaseRef>& leases,
                                             absl::Time now,
                                             absl::Duration duration);
  static constexpr absl::Duration kProgressEventEvery = absl::Seconds(10);
  // Records the outputs and marks the step SUCCEEDED; children whose inputs
  // are all done become READY. A gate step whose condition did not hold
  // (`gate_failed_reason` non-empty) skips everything below it instead.
  absl::Status Complete(const LeaseRef& lease,
                        const std::vector<OutputArtifact>& outputs,
                        absl::Time now,
                        const std::string& gate_failed_reason = "",
                        const std::string& log_tail = "",
                        const std::string& facts_json = "");
  // `code` is an absl::StatusCode: kUnavailable, kAborted, kDeadlineExceeded,
  // kResourceExhausted, kInternal and kUnknown are retried while attempts
  // remain (after RetryBackoff); anything else fails the step at once.
  // Returns whether the step will be retried.
  // `input_unavailable`: the step never started because an input could not
  // be fetched; the attempt is given back and the step offered again after
  // InputWaitBackoff, up to kMaxInputWaits times, then it counts as a
  // retryable failure like any other.
  // With `input_unavailable`, an input whose every copy is on a worker
  // silent for `live_window` (gone: a cancelled Slurm task, a dead node) is
  // lost: the step goes back to WAITING and the steps that produced its lost
  // inputs run again (lineage), instead of the step waiting out its input
  // waits and failing.
  absl::StatusOr<bool> Fail(const LeaseRef& lease, int code,
                            const std::string& message, absl::Time now,
                            const std::string& log_tail = "",
                            bool input_unavailable = false,
                            absl::Duration live_window = absl::Seconds(30));
  // A lease its worker never received: READY again, attempt not counted.
  absl::Status ReturnUndelivered(const LeaseRef& lease, absl::Time now);
  // Returns the keys of steps whose leases had expired (now READY again, or
  // FAILED when out of attempts).
  absl::StatusOr<std::vector<std::string>> ExpireLeases(absl::Time now);
  // After a coordinator restart: gives every live lease at least `grace`
  // from now, so workers can reattach before anything expires.
  absl::Status ExtendLeasesAfterRestart(absl::Time now, absl::Duration grace);
  // When the earliest live lease expires (InfiniteFuture when none).
  absl::StatusOr<absl::Time> NextLeaseExpiry();

  // --- results and events ------------------------------------------------
  // Writes rows once by (step key, problem id, sample index) in one
  // transaction; repeats are counted as duplicates, not rewritten.
  absl::StatusOr<InsertOutcome> InsertResults(const LeaseRef& lease,
                                              const std::vector<ResultRow>& rows,
                                              absl::Time now);
  // The step's rows, or with `problem_id` that problem's samples only.
  absl::StatusOr<std::vector<StoredResult>> Results(const std::string& step_key,
                                                    const std::string& problem_id = "");
  absl::StatusOr<int64_t> CountResults();
  // --- read views for the dashboard (store_views.cc) ----------------------
  // Column-only reads (result_lengths, schema 14; result_tallies): no
  // result body is read except where said.
  // The campaign's steps by state, the workers holding its leases and when
  // its first step started.
  absl::StatusOr<CampaignTally> TallyCampaign(const std::string& campaign_id);
  // Verdict counts of each score step of the campaign (by step key), and
  // the bodies of their error rows (the error kinds are in the body).
  absl::StatusOr<std::map<std::string, VerdictTally>> TallyScores(
      const std::string& campaign_id);
  // The campaign's steps, light (the dashboard names a campaign without
  // labels from them): key, kind, state, attempts, worker,
  // name, node, the node's labels and start; progress only for leased steps,
  // error, gate reason and log tail only for failed, blocked or skipped ones;
  // no params or inputs. In step id order (the order steps were first
  // stored), not CampaignSteps' plan order.
  absl::StatusOr<std::vector<StepRecord>> CampaignStepStates(const std::string& campaign_id);
  absl::StatusOr<int64_t> CampaignStepCount(const std::string& campaign_id);
  // The campaign's steps counted by model, kind and state (the page's grid).
  absl::StatusOr<std::vector<GridCell>> CampaignGrid(const std::string& campaign_id);
  // Up to `limit` steps in `state`, as CampaignStepStates reads them.
  absl::StatusOr<std::vector<StepRecord>> CampaignStepsIn(const std::string& campaign_id,
                                                          StepState state, int64_t limit);
  // The labels of the campaign's score steps.
  absl::StatusOr<std::vector<StepLabel>> CampaignScoreLabels(const std::string& campaign_id);
  // How many of the campaign's steps have no model label (campaigns
  // submitted before labels, or by other clients).
  absl::StatusOr<int64_t> UnlabelledSteps(const std::string& campaign_id);
  // Stores labels worked out for such a campaign (by expanding its spec), so
  // that its later views read them as a new campaign's. Keys not in the
  // campaign are ignored.
  absl::Status LabelSteps(const std::string& campaign_id, const std::vector<StepLabel>& labels);
  // One step's rows without completions: ids, verdicts, finish reasons,
  // token and character counts (row.body empty, except in rows stored
  // before reasoning_chars had a column: there the body has it).
  absl::StatusOr<std::vector<ResultRow>> ResultLengths(const std::string& step_key);
  // Every leased step (the workers page's current leases), by worker.
  absl::StatusOr<std::vector<StepRecord>> LeasedSteps();
  // Events after `after_cursor` (for one campaign, or all when empty).
  absl::StatusOr<std::vector<EventRecord>> Events(const std::string& campaign_id,
                                                  uint64_t after_cursor,
                                                  int limit);
  absl::StatusOr<uint64_t> LastCursor();
  // --- tokens (store_tokens.cc) ---------------------------------------------
  // Stores sha256(token) with its role; the plaintext is never stored.
  absl::Status AddToken(const std::string& token_sha256, const std::string& role,
                        const std::string& name, absl::Time now,
                        std::optional<absl::Time> expires, const std::string& worker_id = "");
  // The token record of a hash at `now`. kUnauthenticated for an unknown hash
  // ("unknown bearer token") and for an expired one (a message saying when
  // it expired), so callers can pass the status on unchanged.
  absl::StatusOr<TokenRecord> TokenOf(const std::string& token_sha256, absl::Time now);
  // Every token, oldest first (for `cohortd token list`).
  absl::StatusOr<std::vector<TokenRecord>> ListTokens();
  // Deletes the tokens whose hash starts with `hash_prefix` (at least 8 hex
  // digits, and it must name exactly one token) or, when `hash_prefix` is
  // empty, every token called `name`. Returns the tokens deleted;
  // kNotFound when none matched, kInvalidArgument for an ambiguous or short
  // prefix.
  absl::StatusOr<std::vector<TokenRecord>> RevokeTokens(const std::string& hash_prefix,
                                                        const std::string& name);

  // Number of steps in each state (metrics).
  absl::StatusOr<std::map<StepState, int64_t>> StepCounts();

  Database& db() { return *db_; }

 private:
  explicit CoordinatorStore(std::unique_ptr<Database> db) : db_(std::move(db)) {}

  // Helpers; all run inside a caller's transaction.
  // Inserts an artifact (once by digest) and its locations; true if new.
  absl::StatusOr<bool> RecordArtifact(const OutputArtifact& artifact,
                                      const std::string& produced_by, absl::Time now);
  // Moves step `key` from `from` by `event` as lifecycle.h's table says
  // and persists the move (SetState); returns the new state.
  // kFailedPrecondition for a move the table does not have, kAborted when
  // the step is no longer in `from`.
  absl::StatusOr<StepState> Apply(const std::string& key, StepState from, StepEvent event,
                                  absl::Time now, const std::string& message,
                                  const RetryFacts& facts = {});
  // Persists a move Apply decided: the state, finish time, progress, the
  // campaigns' unfinished counters, a watch event per campaign, and the
  // campaigns that finished with it.
  absl::Status SetState(const std::string& key, StepState from, StepState to,
                        absl::Time now, const std::string& message);
  absl::Status AppendEvent(EventType type, const std::string& campaign_id,
                           const std::string& step_key, StepState state,
                           const std::string& worker_id,
                           const std::string& message, absl::Time now);
  absl::Status PromoteIfInputsDone(const std::string& key, absl::Time now);
  // The steps that take an input from step `key`, with their states, in id
  // order.
  absl::StatusOr<std::vector<std::pair<std::string, StepState>>> ChildrenOf(
      const std::string& key);
  absl::Status PromoteChildren(const std::string& key, absl::Time now);
  absl::Status BlockDescendants(const std::string& key, absl::Time now);
  absl::Status SkipDescendants(const std::string& key, const std::string& reason,
                               absl::Time now);
  absl::Status LogProgress(const LeaseRef& lease, const std::string& worker_id, absl::Time now);
  absl::Status FinishCampaignsIfDone(const std::string& step_key, absl::Time now);
  absl::Status RearmStep(const std::string& key, absl::Time now,
                         bool include_succeeded = false);
  // The steps that produced `step`'s inputs whose every location is a
  // worker with no heartbeat within `live_window`; those dead locations are
  // dropped. Inputs registered by a client (no producer) are never lost.
  absl::StatusOr<std::vector<std::string>> ProducersOfLostInputs(const StepRecord& step,
                                                                 absl::Time now,
                                                                 absl::Duration live_window);
  // The digest step `step_key` recorded for its output `output`; "" when it
  // recorded none.
  absl::StatusOr<std::string> OutputDigest(const std::string& step_key,
                                           const std::string& output);
  // An attempt that was not the step's fault (a lease never delivered, an
  // input lost) is not counted.
  absl::Status GiveAttemptBack(const std::string& key);
  // `step` (LEASED) back to WAITING and the `producers` run again.
  absl::Status RecomputeLostInputs(const StepRecord& step,
                                   const std::vector<std::string>& producers,
                                   absl::Time now);
  // Where a step's rows go in result_lengths (schema 14): its id and its
  // cluster, assigned at its first results (store_results.cc).
  struct LengthsPlace {
    int64_t step_id = 0;
    int64_t cluster = 0;
  };
  absl::StatusOr<LengthsPlace> LengthsPlaceOf(const std::string& step_key);
  absl::Status InsertLengths(const LengthsPlace& place, const ResultRow& row);
  // The step whose lease id is `lease_id`, whatever its state and epoch.
  absl::StatusOr<std::optional<StepRecord>> StepOfLease(const std::string& lease_id);
  // The step holding `lease` at its epoch. A lease that lapsed while its
  // step stayed READY (nobody took it since) is taken back first.
  absl::StatusOr<StepRecord> CurrentLease(const LeaseRef& lease, absl::Time now);
  // READY -> LEASED again for `step`'s lapsed lease, until `expiry`; false
  // when the step is not READY.
  absl::StatusOr<bool> ReclaimLapsedLease(const StepRecord& step, absl::Time now,
                                          absl::Time expiry);
  // Gives a leased step's attempt back (an input could not be fetched);
  // false once it has waited kMaxInputWaits times.
  absl::StatusOr<bool> HandBack(const StepRecord& step, const std::string& message,
                                absl::Time now);
  absl::StatusOr<std::optional<StepRecord>> ReadStep(const std::string& key);
  // A step's inputs from its inputs_json, sources resolved to keys, by name.
  absl::StatusOr<std::vector<StepInput>> ReadInputs(const std::string& key);
  absl::StatusOr<std::vector<std::string>> CampaignsOfStep(const std::string& key);
  // Adds `delta` to the number of steps in `state` (step_counts).
  absl::Status CountStates(StepState state, int64_t delta);
  absl::StatusOr<LeaseGrant> MakeGrant(StepRecord step);
  absl::StatusOr<std::optional<LeaseGrant>> LeaseNextInTransaction(
      const WorkerCapacity& worker, absl::Time now, absl::Duration duration);
  struct StoredStep {
    int64_t id = 0;
    StepState state = StepState::kUnspecified;
  };
  using StoredSteps = absl::flat_hash_map<std::string, StoredStep>;
  // The id and state of each of `steps` already stored (absent: not stored);
  // `key_hashes[i]` is StepKeyHash(steps[i].key).
  absl::StatusOr<StoredSteps> StoredStates(absl::Span<const PlannedStep> steps,
                                           absl::Span<const int64_t> key_hashes);
  // A step of a submitted campaign: its row id, and its state after the
  // submit.
  struct PlacedStep {
    const PlannedStep* step = nullptr;
    int64_t id = 0;
    StepState state = StepState::kUnspecified;
    int64_t key_hash = 0;  // StepKeyHash(step->key)
  };
  // Stores steps new to the graph (`fresh`, in id order) at their initial
  // states, with their inputs, their links to the steps they take inputs
  // from and (for a state other than WAITING) an event.
  // `id_of` holds the row id of every step of the campaign by key.
  absl::Status InsertNewSteps(
      const std::vector<PlacedStep>& fresh,
      const absl::flat_hash_map<absl::string_view, int64_t>& id_of,
      const std::string& campaign_id, int priority, absl::Time now);
  // What SubmitCampaign has decided so far, chunk after chunk.
  struct SubmitProgress {
    std::string campaign_id;
    int priority = 0;
    absl::Time now;
    bool rerun = false;
    int64_t next_id = 1;  // the id the next new step gets
    // Each distinct step's state after the submit (the outcome's map).
    absl::flat_hash_map<std::string, StepState>* states = nullptr;
    // key -> step id; the keys are the submitted steps' own, which outlive
    // the submit.
    absl::flat_hash_map<absl::string_view, int64_t> id_of;
    std::vector<PlacedStep> promoted;  // stored steps whose state changes
    int64_t unfinished = 0;  // distinct steps not terminal as stored now
    uint32_t cached = 0;
  };
  // Decides and stores the next `chunk` of a campaign's steps (plan order).
  absl::Status SubmitChunk(absl::Span<const PlannedStep> chunk,
                           SubmitProgress& progress);

  // SubmitCampaign's transaction, with the foreign-key checks off.
  absl::StatusOr<SubmitOutcome> SubmitInTransaction(
      const std::string& name, const std::string& spec_json, int priority,
      const std::string& idempotency_key, const std::vector<PlannedStep>& steps,
      absl::Time now, bool rerun, const StepsReady& ready, const std::string& owner);

  // Which row holds each stored step's key: a key it does not know is
  // certainly new, and a campaign of new steps is submitted without looking
  // each one up. Declared before db_, whose connection calls it
  // (cohort_step_id), so that it outlives the connection.
  StepIndex step_index_;
  std::unique_ptr<Database> db_;
  // Lease id -> when its last progress event went into the event log: a
  // heartbeat's progress becomes a STEP_PROGRESS event (what `cohort watch`
  // shows live) at most once per kProgressEventEvery per lease.
  std::map<std::string, absl::Time> progress_logged_;
};

// Requirements <-> JSON, as stored in steps.requirements_json.
std::string RequirementsToJson(const Requirements& req);
Requirements RequirementsFromJson(const std::string& text);

// Hex random id with a prefix: "c-1a2b3c4d5e6f7081".
std::string RandomId(const char* prefix);

}  // namespace cohort::server

#endif  // COHORT_SERVER_STORE_COORDINATOR_STORE_H_
