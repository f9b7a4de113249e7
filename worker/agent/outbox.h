// File: outbox.h
//
// The worker's shipper: what the spool (spool.h) holds goes to cohortd
// oldest first, each message removed once cohortd has taken it. One thread
// ships; it sleeps until Append wakes it, and after a failed send it waits
// `retry_pause` (or an Append) before trying again, so nothing polls.
//
//   Outbox outbox(spool, gateway);
//   outbox.Start();
//   outbox.Append(SpoolKind::kComplete, lease, request.SerializeAsString(), "the completion");
//   ... outbox.Flush(absl::Now() + absl::Seconds(5)); outbox.Stop();
//
// A message cohortd refuses for good (kFailedPrecondition: its lease was
// superseded; kInvalidArgument, kNotFound) drops every message of that
// lease; any other failure is retried, in order.
//
// Thread-safe. Does not own the spool or the gateway; both outlive it.
#ifndef COHORT_WORKER_AGENT_OUTBOX_H_
#define COHORT_WORKER_AGENT_OUTBOX_H_

#include <cstdint>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cohort/v1/worker.pb.h"
#include "worker/agent/gateway.h"
#include "worker/agent/spool.h"

namespace cohort::worker {

class Outbox {
 public:
  Outbox(Spool& spool, Gateway& gateway, absl::Duration retry_pause = absl::Seconds(1));
  ~Outbox();
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  void Start() ABSL_LOCKS_EXCLUDED(mu_);
  // Durable before it returns: a kill -9 afterwards loses nothing. A failure
  // (a full or broken disk) is logged as an error naming `what` was lost and
  // what happens next (the lease expires, the step runs again).
  void Append(SpoolKind kind, const v1::Lease& lease, const std::string& payload,
              const char* what) ABSL_LOCKS_EXCLUDED(mu_);
  // Blocks until everything appended so far is shipped, or `deadline`;
  // true when the spool is empty.
  bool Flush(absl::Time deadline) ABSL_LOCKS_EXCLUDED(mu_);
  // Ends the shipping thread (a send in flight finishes first).
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Loop() ABSL_LOCKS_EXCLUDED(mu_);
  // Ships the oldest pending messages; false when a send failed and the
  // loop should pause before trying again.
  bool ShipPending(uint64_t appended_before) ABSL_LOCKS_EXCLUDED(mu_);
  enum class ShipOutcome {
    kShipped,    // taken: remove it
    kRetry,      // not now: keep it and everything after it
    kDropLease,  // refused for good: every message of its lease was removed
  };
  ShipOutcome Ship(const SpoolEntry& entry);

  Spool& spool_;
  Gateway& gateway_;
  const absl::Duration retry_pause_;
  std::thread thread_;

  absl::Mutex mu_;
  uint64_t appended_ ABSL_GUARDED_BY(mu_) = 0;  // Appends so far: what wakes the loop
  bool empty_ ABSL_GUARDED_BY(mu_) = false;     // the spool held nothing at the last look
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace cohort::worker

#endif  // COHORT_WORKER_AGENT_OUTBOX_H_
