// File: step_index.h
//
// Which row of the steps table holds a step key, kept in memory by the
// store. SQLite's own index on a hash of the key cost a fifth of a
// 10^5-step submit (one random B-tree insert per step); a hash map costs a
// small part of that and makes each lookup by key a lookup by row id.
//
// Find answers a candidate: the caller compares the key in that row too
// (queries say "id = cohort_step_id(?1) AND key = ?1"), so a key that only
// shares its 62-bit hash with a stored one finds nothing. When two stored
// keys share a hash, the later one is kept by its whole key.
//
// Entries are added as a transaction inserts steps, after Mark; Keep
// keeps them when it commits and Undo drops them when it rolls back, so the
// index never names a row that does not exist.
//
// Not thread-safe: the store uses it under its owner's lock.
#ifndef COHORT_SERVER_STORE_STEP_INDEX_H_
#define COHORT_SERVER_STORE_STEP_INDEX_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/sqlite/database.h"

namespace cohort::server {

class StepIndex {
 public:
  // The row that may hold `key` (hash: StepKeyHash(key)); 0 when no stored
  // step can have it.
  int64_t Find(int64_t hash, absl::string_view key) const;
  int64_t Find(absl::string_view key) const;

  // Records that row `id` holds `key`, a key stored by no other row.
  void Add(int64_t hash, absl::string_view key, int64_t id);

  // Starts recording what Add adds; Undo removes it again, Keep forgets
  // the record.
  void Mark();
  void Keep();
  void Undo();

  size_t size() const { return by_hash_.size() + by_key_.size(); }

  // Fills the index from the steps table of `db`.
  absl::Status Load(Database& db);

  // Registers cohort_step_id(key) on `db`: Find for SQL, NULL for 0. The
  // index must outlive the connection.
  absl::Status RegisterSqlFunction(Database& db) const;

 private:
  absl::flat_hash_map<int64_t, int64_t> by_hash_;
  // Keys whose hash an earlier stored key already had.
  absl::flat_hash_map<std::string, int64_t> by_key_;
  bool marked_ = false;
  // Added since Mark: the hash, and the key when it went to by_key_.
  std::vector<std::pair<int64_t, std::string>> added_;
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_STORE_STEP_INDEX_H_
