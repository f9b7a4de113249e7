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

inline constexpr int kSchemaVersion = 13;

[[nodiscard]] absl::Status Migrate(Database& db);

// Migrates up to `target` only (tests build older databases with it).
[[nodiscard]] absl::Status MigrateTo(Database& db, int target);

// steps.key_hash: a fixed 62-bit hash of the key, the same in C++ and in SQL
// as cohort_key_hash(key); the store's StepIndex is keyed by it.
int64_t StepKeyHash(absl::string_view key);

// Registers cohort_key_hash on `db` (Migrate does; so must any connection
// that runs the store's queries).
[[nodiscard]] absl::Status RegisterStoreFunctions(Database& db);

// The version stored in the database (0 for a new file).
absl::StatusOr<int> SchemaVersion(Database& db);

}  // namespace cohort::server

#endif  // COHORT_SERVER_STORE_SCHEMA_H_
