// File: spool.h
//
// The worker's outbox: every message that changes the coordinator's state
// (a batch of per-problem results, a step completion, a step failure) is
// first committed to a local SQLite file and deleted only once the
// coordinator has acknowledged it. A worker killed with -9 and restarted
// ships what was left; the coordinator's write-once results and lease
// epochs make a resend harmless. While the coordinator is unreachable the
// worker keeps working and the spool grows.
//
// Messages for one lease are shipped in the order they were appended, so a
// step's results always arrive before its completion.
//
// Thread-safe.
#ifndef COHORT_WORKER_AGENT_SPOOL_H_
#define COHORT_WORKER_AGENT_SPOOL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/sqlite/database.h"

namespace cohort::worker {

enum class SpoolKind : int { kResults = 1, kComplete = 2, kFail = 3 };

struct SpoolEntry {
  int64_t id = 0;
  SpoolKind kind = SpoolKind::kResults;
  std::string lease_id;
  uint64_t epoch = 0;
  std::string payload;  // a serialized request message
};

class Spool {
 public:
  static absl::StatusOr<std::unique_ptr<Spool>> Open(const std::string& path);

  // Durable (synchronous=FULL) before it returns.
  absl::StatusOr<int64_t> Append(SpoolKind kind, const std::string& lease_id,
                                 uint64_t epoch, const std::string& payload)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Oldest first.
  absl::StatusOr<std::vector<SpoolEntry>> Pending(int limit) ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status Remove(int64_t id) ABSL_LOCKS_EXCLUDED(mu_);
  // Drops every entry of a lease (its lease was superseded).
  absl::Status RemoveLease(const std::string& lease_id) ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<int64_t> Count() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  explicit Spool(std::unique_ptr<Database> db) : db_(std::move(db)) {}
  absl::Mutex mu_;
  std::unique_ptr<Database> db_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cohort::worker

#endif  // COHORT_WORKER_AGENT_SPOOL_H_
