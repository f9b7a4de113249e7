#include "worker/agent/outbox.h"

#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace cohort::worker {

Outbox::Outbox(Spool& spool, Gateway& gateway, absl::Duration retry_pause)
    : spool_(spool), gateway_(gateway), retry_pause_(retry_pause) {}

Outbox::~Outbox() { Stop(); }

void Outbox::Start() {
  absl::MutexLock lock(&mu_);
  if (!thread_.joinable() && !stopping_) thread_ = std::thread([this] { Loop(); });
}

void Outbox::Append(SpoolKind kind, const v1::Lease& lease, const std::string& payload,
                    const char* what) {
  absl::StatusOr<int64_t> id = spool_.Append(kind, lease.lease_id(), lease.epoch(), payload);
  if (!id.ok()) {
    // cohortd never hears of it: the lease expires and the step runs again
    // (results are write-once, so a partial batch cannot double).
    spdlog::error("spool: lost {} of step {} ({}): {}; its lease will expire and the step "
                  "will run again", what, lease.step().display_name(), lease.step().key(),
                  id.status().ToString());
    return;
  }
  if (kind != SpoolKind::kResults) {
    spdlog::info("spooled {} of step {}", what, lease.step().display_name());
  }
  absl::MutexLock lock(&mu_);
  ++appended_;
  empty_ = false;
}

bool Outbox::Flush(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  if (!thread_.joinable()) return empty_;
  auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return empty_ || stopping_; };
  mu_.AwaitWithDeadline(absl::Condition(&done), deadline);
  return empty_;
}

void Outbox::Stop() {
  std::thread thread;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    thread = std::move(thread_);
  }
  if (thread.joinable()) thread.join();
}

void Outbox::Loop() {
  while (true) {
    uint64_t seen = 0;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      seen = appended_;
    }
    bool shipped = ShipPending(seen);
    absl::MutexLock lock(&mu_);
    // Woken by an Append (or Stop); after a failed send, also by the pause.
    auto woken = [this, seen]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stopping_ || appended_ != seen;
    };
    if (!shipped) {
      mu_.AwaitWithTimeout(absl::Condition(&woken), retry_pause_);
    } else if (empty_) {
      mu_.Await(absl::Condition(&woken));
    }
  }
}

bool Outbox::ShipPending(uint64_t appended_before) {
  absl::StatusOr<std::vector<SpoolEntry>> pending = spool_.Pending(64);
  if (!pending.ok()) {
    spdlog::warn("spool: cannot read what is left to send: {}", pending.status().ToString());
    return false;
  }
  if (pending->empty()) {
    absl::MutexLock lock(&mu_);
    // Empty only if nothing was appended since the look began.
    empty_ = appended_ == appended_before;
    return true;
  }
  std::set<std::string> dropped;  // leases refused for good: their later entries are gone too
  for (const SpoolEntry& entry : *pending) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return true;
    }
    if (dropped.count(entry.lease_id) != 0) continue;
    ShipOutcome outcome = Ship(entry);
    if (outcome == ShipOutcome::kRetry) return false;
    if (outcome == ShipOutcome::kDropLease) {
      dropped.insert(entry.lease_id);
      continue;
    }
    if (absl::Status removed = spool_.Remove(entry.id); !removed.ok()) {
      // Shipped but still spooled: it is sent again, which cohortd takes
      // as a duplicate (results are write-once, completions idempotent).
      spdlog::warn("spool: cannot remove a shipped message: {}", std::string(removed.message()));
      return false;
    }
  }
  return true;
}

Outbox::ShipOutcome Outbox::Ship(const SpoolEntry& entry) {
  absl::Status status;
  bool parsed = false;
  if (entry.kind == SpoolKind::kResults) {
    v1::ReportResultsRequest batch;
    parsed = batch.ParseFromString(entry.payload);
    batch.set_batch_id(static_cast<uint64_t>(entry.id));
    if (parsed) status = gateway_.ReportResults(batch);
  } else if (entry.kind == SpoolKind::kComplete) {
    v1::CompleteStepRequest request;
    parsed = request.ParseFromString(entry.payload);
    if (parsed) status = gateway_.CompleteStep(request);
  } else {
    v1::FailStepRequest request;
    parsed = request.ParseFromString(entry.payload);
    if (parsed) status = gateway_.FailStep(request);
  }
  if (!parsed) {
    // A damaged spool row. Half a message could complete the step with
    // results missing, so none of the lease's messages go: cohortd sees the
    // lease lapse and runs the step again.
    status = absl::DataLossError(absl::StrCat("spool row ", entry.id, " (",
                                              entry.payload.size(), " bytes) does not parse"));
  } else if (status.ok()) {
    return ShipOutcome::kShipped;
  } else if (!absl::IsFailedPrecondition(status) && !absl::IsInvalidArgument(status) &&
             !absl::IsNotFound(status)) {
    return ShipOutcome::kRetry;
  }
  // The lease was superseded (or the message is unusable): nothing sent for
  // it can ever be accepted.
  spdlog::warn("dropping spooled message for lease {}: {}", entry.lease_id,
               std::string(status.message()));
  if (absl::Status removed = spool_.RemoveLease(entry.lease_id); !removed.ok()) {
    // Left in the spool, they are offered again and refused again: no harm.
    spdlog::warn("spool: cannot drop the messages of lease {}: {}", entry.lease_id,
                 std::string(removed.message()));
  }
  return ShipOutcome::kDropLease;
}

}  // namespace cohort::worker
