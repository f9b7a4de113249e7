// File: running_steps.h
//
// The steps a worker runs, one entry per lease from its grant until its
// thread is joined, and the GPUs each holds. It is what the agent's loops
// share: the lease loop waits here for a free slot, the heartbeat reads
// progress and delivers revocations, a new attempt waits for an earlier
// attempt of its step to end, and Drain waits for all of them. Every wait
// is on this table's mutex (absl conditions), so a step that ends wakes its
// waiters at once; nothing polls.
//
//   RunningSteps steps(/*gpus=*/2);
//   steps.Launch(lease, [&](RunningSteps::Step* step) { ...; steps.Finish(step); });
//   if (!steps.WaitForFreeSlot(slots)) return;   // draining
//   steps.Reap();                                 // joins finished threads
//
// Thread-safe. Owns the steps and their threads; a Step* stays valid until
// Reap removes it after Finish, so only the step's own thread calls Finish.
#ifndef COHORT_WORKER_AGENT_RUNNING_STEPS_H_
#define COHORT_WORKER_AGENT_RUNNING_STEPS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cohort/v1/worker.pb.h"
#include "worker/agent/gpu_slots.h"
#include "worker/exec/executor.h"

namespace cohort::worker {

class RunningSteps {
 public:
  struct Step {
    v1::Lease lease;
    std::vector<uint32_t> gpus;  // this worker's GPUs it holds, set before it starts
    // Read by the executor's should_stop (often, from tool threads): atomic.
    std::atomic<bool> cancel{false};
    std::thread thread;
  };

  explicit RunningSteps(uint32_t gpus) : gpu_slots_(gpus) {}
  ~RunningSteps();  // cancels what runs and joins every thread
  RunningSteps(const RunningSteps&) = delete;
  RunningSteps& operator=(const RunningSteps&) = delete;

  // Adds the lease's step, with the GPUs it asks for (none when fewer are
  // free: cohortd granted more than this worker said it had; logged), and
  // runs `run` on a thread of its own; `run` must end with Finish(step).
  // Returns the step (its GPUs set).
  Step* Launch(const v1::Lease& lease, std::function<void(Step*)> run) ABSL_LOCKS_EXCLUDED(mu_);
  // The step has ended: its GPUs are free and its waiters wake.
  void Finish(Step* step) ABSL_LOCKS_EXCLUDED(mu_);
  // Joins the threads of finished steps and forgets them.
  void Reap() ABSL_LOCKS_EXCLUDED(mu_);

  void SetProgress(const Step* step, const TaskProgress& progress) ABSL_LOCKS_EXCLUDED(mu_);
  // A LeaseStatus (with progress) for each unfinished step.
  void AddStatuses(v1::HeartbeatRequest* request) const ABSL_LOCKS_EXCLUDED(mu_);
  // Cancels the unfinished steps of these leases (revoked by cohortd).
  void Revoke(const std::vector<std::string>& lease_ids) ABSL_LOCKS_EXCLUDED(mu_);
  // Whether a step of this lease is here (running or not yet reaped).
  bool Holds(const std::string& lease_id) const ABSL_LOCKS_EXCLUDED(mu_);

  uint32_t Unfinished() const ABSL_LOCKS_EXCLUDED(mu_);
  uint32_t FreeGpus() const ABSL_LOCKS_EXCLUDED(mu_);

  // Cancels every unfinished attempt of `step`'s step with an earlier
  // epoch and blocks until each has finished. An earlier attempt still
  // winding down here would share the step's work folder (kept across
  // attempts so generation resumes from its journal) and its clean-up
  // would delete the later one's files.
  void StopEarlierAttempts(const Step* step) ABSL_LOCKS_EXCLUDED(mu_);

  // Blocks until fewer than `slots` steps are unfinished (true) or draining
  // has begun (false).
  bool WaitForFreeSlot(uint32_t slots) ABSL_LOCKS_EXCLUDED(mu_);
  // Blocks for `pause` unless draining begins first; true when draining.
  bool PauseUnlessDraining(absl::Duration pause) ABSL_LOCKS_EXCLUDED(mu_);
  // From here WaitForFreeSlot and PauseUnlessDraining return at once.
  void BeginDrain() ABSL_LOCKS_EXCLUDED(mu_);
  // Blocks until no step is unfinished or `deadline`; true when none is.
  bool WaitAllFinished(absl::Time deadline) ABSL_LOCKS_EXCLUDED(mu_);
  // Cancels every unfinished step; returns their leases.
  std::vector<v1::Lease> CancelAll() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Entry {
    std::unique_ptr<Step> step;
    bool finished = false;
    TaskProgress progress;
  };
  static bool IsEarlierAttempt(const Entry& entry, const Step* step);
  uint32_t UnfinishedLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::map<std::string, Entry> steps_ ABSL_GUARDED_BY(mu_);  // by lease id
  GpuSlots gpu_slots_ ABSL_GUARDED_BY(mu_);
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace cohort::worker

#endif  // COHORT_WORKER_AGENT_RUNNING_STEPS_H_
