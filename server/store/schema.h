// File: schema.h
//
// The coordinator's SQLite schema, versioned. Migrate() brings a database of
// any earlier version up to kSchemaVersion in one transaction each, and
// refuses (kFailedPrecondition) a database written by a newer cohortd.
#ifndef COHORT_SERVER_STORE_SCHEMA_H_
#define COHORT_SERVER_STORE_SCHEMA_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/sqlite/database.h"

namespace cohort::server {

inline constexpr int kSchemaVersion = 14;

[[nodiscard]] absl::Status Migrate(Database& db);

// Migrates up to `target` only (tests build older databases with it).
[[nodiscard]] absl::Status MigrateTo(Database& db, int target);

// steps.key_hash: a fixed 62-bit hash of the key, the same in C++ and in SQL
// as cohort_key_hash(key); the store's StepIndex is keyed by it.
int64_t StepKeyHash(absl::string_view key);

// Registers cohort_key_hash on `db` (Migrate does; so must any connection
// that runs the store's queries).
[[nodiscard]] absl::Status RegisterStoreFunctions(Database& db);

// Gives each step that has results and no lengths cluster its cluster (the
// first, by length_suites id, of the suites its campaigns name it under; 0
// for none) in length_clusters, and copies its rows' counts into
// result_lengths (schema 14). Migration 14 runs it; so does a tool that
// writes results rows with SQL instead of through
// CoordinatorStore::InsertResults (tests/perf).
inline constexpr const char* kBackfillResultLengths = R"sql(
INSERT OR IGNORE INTO length_suites(suite) SELECT DISTINCT suite FROM campaign_steps;
CREATE TEMP TABLE new_length_clusters AS
  SELECT s.id AS step_id,
         coalesce((SELECT min(ls.id) FROM campaign_steps cs
                   JOIN length_suites ls ON ls.suite = cs.suite
                   WHERE cs.step_id = s.id), 0) AS cluster
  FROM steps s
  WHERE s.key IN (SELECT step_key FROM result_tallies)
    AND s.id NOT IN (SELECT step_id FROM length_clusters);
INSERT INTO length_clusters(step_id, cluster) SELECT step_id, cluster FROM new_length_clusters;
INSERT OR IGNORE INTO result_lengths(cluster, step_id, problem_id, sample_index, verdict,
    finish_reason, completion_tokens, reasoning_tokens, completion_chars, reasoning_chars)
  SELECT n.cluster, s.id, r.problem_id, r.sample_index, r.verdict, r.finish_reason,
         r.completion_tokens, r.reasoning_tokens, r.completion_chars, r.reasoning_chars
  FROM new_length_clusters n JOIN steps s ON s.id = n.step_id
  JOIN results r ON r.step_key = s.key;
DROP TABLE new_length_clusters;
)sql";

// The version stored in the database (0 for a new file).
absl::StatusOr<int> SchemaVersion(Database& db);

}  // namespace cohort::server

#endif  // COHORT_SERVER_STORE_SCHEMA_H_
