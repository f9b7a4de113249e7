// File: token_reader.h
//
// Looks up bearer tokens on a SQLite connection of its own, so that
// authenticating a call never waits for the coordinator's lock or a store
// transaction: every call is authenticated twice (from its headers before
// the request is read, then in the handler), and on the shared connection
// each lookup queued behind lease grants and result commits (heartbeat p99
// rose from 6-10 ms to 15-52 ms with 1,000 workers; docs/PERFORMANCE.md).
// In WAL mode a reader sees the last commit without blocking the writer,
// including a revocation that `cohortd token revoke` committed from another
// process.
//
// Thread-safe (one mutex around the connection; lookups are a primary-key
// read of microseconds).
#ifndef COHORT_SERVER_STORE_TOKEN_READER_H_
#define COHORT_SERVER_STORE_TOKEN_READER_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/sqlite/database.h"
#include "server/store/coordinator_store.h"

namespace cohort::server {

class TokenReader {
 public:
  // Opens a second connection to the coordinator's database file at `path`
  // (already created and migrated by CoordinatorStore::Open).
  static absl::StatusOr<std::unique_ptr<TokenReader>> Open(const std::string& path);

  // As CoordinatorStore::TokenOf: the token with this sha256, or
  // kUnauthenticated when unknown or expired at `now` (the message says which).
  absl::StatusOr<TokenRecord> TokenOf(const std::string& token_sha256, absl::Time now)
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  explicit TokenReader(std::unique_ptr<Database> db) : db_(std::move(db)) {}

  absl::Mutex mu_;
  std::unique_ptr<Database> db_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_STORE_TOKEN_READER_H_
