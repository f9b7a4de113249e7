#include "server/store/schema.h"

#include <sqlite3.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace cohort::server {
namespace {

// Migration N takes a database from version N-1 to N. Never edit a shipped
// migration; add a new one.
constexpr const char* kMigration1 = R"sql(
CREATE TABLE campaigns (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  state INTEGER NOT NULL,
  spec_json TEXT NOT NULL,
  priority INTEGER NOT NULL DEFAULT 0,
  idempotency_key TEXT UNIQUE,
  unfinished INTEGER NOT NULL DEFAULT 0,
  created_us INTEGER NOT NULL,
  finished_us INTEGER
);
CREATE TABLE steps (
  key TEXT PRIMARY KEY,
  kind INTEGER NOT NULL,
  params_json TEXT NOT NULL,
  impl_version TEXT NOT NULL,
  state INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  lease_id TEXT,
  lease_epoch INTEGER NOT NULL DEFAULT 0,
  lease_expiry_us INTEGER,
  worker_id TEXT,
  requirements_json TEXT NOT NULL,
  priority INTEGER NOT NULL DEFAULT 0,
  display_name TEXT NOT NULL,
  not_before_us INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  last_error_code INTEGER,
  gate_reason TEXT,
  progress_json TEXT,
  created_us INTEGER NOT NULL,
  started_us INTEGER,
  finished_us INTEGER
);
CREATE INDEX steps_by_state ON steps(state, priority DESC, created_us);
CREATE INDEX steps_by_lease ON steps(lease_id);
CREATE TABLE step_inputs (
  step_key TEXT NOT NULL REFERENCES steps(key),
  name TEXT NOT NULL,
  artifact_digest TEXT,
  source_step_key TEXT,
  source_output TEXT,
  PRIMARY KEY (step_key, name)
) WITHOUT ROWID;
CREATE TABLE edges (
  parent_key TEXT NOT NULL REFERENCES steps(key),
  child_key TEXT NOT NULL REFERENCES steps(key),
  PRIMARY KEY (parent_key, child_key)
) WITHOUT ROWID;
CREATE INDEX edges_by_child ON edges(child_key, parent_key);
CREATE TABLE campaign_steps (
  campaign_id TEXT NOT NULL REFERENCES campaigns(id),
  step_key TEXT NOT NULL REFERENCES steps(key),
  node_id TEXT NOT NULL,
  PRIMARY KEY (campaign_id, step_key)
) WITHOUT ROWID;
CREATE INDEX campaign_steps_by_step ON campaign_steps(step_key);
CREATE TABLE artifacts (
  digest TEXT PRIMARY KEY,
  kind INTEGER NOT NULL,
  size_bytes INTEGER NOT NULL,
  is_folder INTEGER NOT NULL,
  produced_by TEXT,
  created_us INTEGER NOT NULL
);
CREATE TABLE artifact_locations (
  digest TEXT NOT NULL REFERENCES artifacts(digest),
  location TEXT NOT NULL,
  PRIMARY KEY (digest, location)
) WITHOUT ROWID;
CREATE TABLE step_outputs (
  step_key TEXT NOT NULL REFERENCES steps(key),
  name TEXT NOT NULL,
  digest TEXT NOT NULL REFERENCES artifacts(digest),
  PRIMARY KEY (step_key, name)
) WITHOUT ROWID;
CREATE TABLE workers (
  id TEXT PRIMARY KEY,
  info_json TEXT NOT NULL,
  registered_us INTEGER NOT NULL,
  last_heartbeat_us INTEGER NOT NULL
);
CREATE TABLE results (
  step_key TEXT NOT NULL,
  problem_id TEXT NOT NULL,
  sample_index INTEGER NOT NULL,
  lease_epoch INTEGER NOT NULL,
  verdict INTEGER NOT NULL,
  finish_reason TEXT,
  completion_tokens INTEGER,
  reasoning_tokens INTEGER,
  completion_chars INTEGER,
  extracted_answer TEXT,
  scorer_version TEXT,
  body BLOB NOT NULL,
  created_us INTEGER NOT NULL,
  PRIMARY KEY (step_key, problem_id, sample_index)
) WITHOUT ROWID;
CREATE TABLE events (
  cursor INTEGER PRIMARY KEY AUTOINCREMENT,
  type INTEGER NOT NULL,
  time_us INTEGER NOT NULL,
  campaign_id TEXT,
  step_key TEXT,
  step_state INTEGER,
  worker_id TEXT,
  message TEXT
);
CREATE INDEX events_by_campaign ON events(campaign_id, cursor);
CREATE TABLE tokens (
  hash TEXT PRIMARY KEY,
  role TEXT NOT NULL,
  name TEXT NOT NULL,
  created_us INTEGER NOT NULL,
  expires_us INTEGER
);
)sql";

// The tail of a step's tool log, as its worker reported it last.
constexpr const char* kMigration2 = R"sql(
ALTER TABLE steps ADD COLUMN log_tail TEXT;
)sql";

// LeaseNext orders READY steps by (priority DESC, created_us, key): with
// `key` outside the index, SQLite read and sorted the whole ready queue for
// every lease. The full order in the index lets it stop after the first
// matching row. And which artifacts a worker holds, by location: LeaseNext
// asks it for every lease to decide whether input locality can matter.
constexpr const char* kMigration3 = R"sql(
CREATE INDEX steps_by_state_order ON steps(state, priority DESC, created_us, key);
DROP INDEX steps_by_state;
CREATE INDEX artifact_locations_by_location ON artifact_locations(location, digest);
)sql";

// How often a step was handed back because an input could not be fetched
// (not a failure of the step; bounded separately from its attempts).
constexpr const char* kMigration4 = R"sql(
ALTER TABLE steps ADD COLUMN input_waits INTEGER NOT NULL DEFAULT 0;
)sql";

// Fair order between campaigns: ready steps of equal priority are leased by
// their position in their campaign's plan before their creation time, so a
// campaign submitted behind a big one starts at once and both progress side
// by side. The index holds the whole order, as steps_by_state_order did.
constexpr const char* kMigration5 = R"sql(
ALTER TABLE steps ADD COLUMN ordinal INTEGER NOT NULL DEFAULT 0;
CREATE INDEX steps_by_state_fair ON steps(state, priority DESC, ordinal, created_us, key);
DROP INDEX steps_by_state_order;
)sql";

// Steps get an integer id, and every table that points at a step refers to
// it by that id instead of by its 71-character key: a 10^5-step submit spent
// most of its time maintaining indexes (and checking foreign keys) on those
// keys. Steps were found by key through key_hash, an integer of the key
// (cohort_key_hash, registered by Migrate), indexed until schema 7; a key is
// stored once because SubmitCampaign looks every key up before it inserts.
// A step's inputs are one JSON array in its row (inputs_json: {"name",
// "digest"} or {"name", "output", "step": <id>}), read whole when the step
// is; step_edges holds only the links between steps, both ways, for
// promotion. Step ids follow insertion order, which is plan (topological)
// order, so the tables keyed by step id grow at their ends.
//
// Only READY steps are looked up in lease order and only LEASED ones by
// expiry or worker: a big campaign is mostly WAITING steps, which cost no
// entry in those partial indexes. Queries name the condition literally (see
// kReadySteps in store_internal.h) so that SQLite can use them. The number
// of steps in each state (every metrics scrape) is kept in step_counts by
// the store as states change, instead of counting the table.
constexpr const char* kMigration6 = R"sql(
CREATE TABLE steps_v6 (
  id INTEGER PRIMARY KEY,
  key TEXT NOT NULL,
  key_hash INTEGER NOT NULL,
  kind INTEGER NOT NULL,
  params_json TEXT NOT NULL,
  impl_version TEXT NOT NULL,
  state INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  lease_id TEXT,
  lease_epoch INTEGER NOT NULL DEFAULT 0,
  lease_expiry_us INTEGER,
  worker_id TEXT,
  requirements_json TEXT NOT NULL,
  priority INTEGER NOT NULL DEFAULT 0,
  display_name TEXT NOT NULL,
  not_before_us INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  last_error_code INTEGER,
  gate_reason TEXT,
  progress_json TEXT,
  created_us INTEGER NOT NULL,
  started_us INTEGER,
  finished_us INTEGER,
  log_tail TEXT,
  input_waits INTEGER NOT NULL DEFAULT 0,
  ordinal INTEGER NOT NULL DEFAULT 0,
  inputs_json TEXT NOT NULL DEFAULT '[]'
);
INSERT INTO steps_v6(id, key, key_hash, kind, params_json, impl_version, state, attempts,
  max_attempts, lease_id, lease_epoch, lease_expiry_us, worker_id,
  requirements_json, priority, display_name, not_before_us, last_error,
  last_error_code, gate_reason, progress_json, created_us, started_us,
  finished_us, log_tail, input_waits, ordinal)
SELECT rowid, key, cohort_key_hash(key), kind, params_json, impl_version, state, attempts,
  max_attempts, lease_id, lease_epoch, lease_expiry_us, worker_id,
  requirements_json, priority, display_name, not_before_us, last_error,
  last_error_code, gate_reason, progress_json, created_us, started_us,
  finished_us, log_tail, input_waits, ordinal
FROM steps ORDER BY rowid;
-- Only for the joins below, on the old tables' text keys.
CREATE INDEX steps_v6_by_key ON steps_v6(key);

UPDATE steps_v6 SET inputs_json = j.doc FROM (
  SELECT s.id AS id, json_group_array(CASE WHEN i.source_step_key IS NULL
    THEN json_object('name', i.name, 'digest', i.artifact_digest)
    ELSE json_object('name', i.name, 'output', i.source_output, 'step', src.id)
    END) AS doc
  FROM step_inputs i JOIN steps_v6 s ON s.key = i.step_key
  LEFT JOIN steps_v6 src ON src.key = i.source_step_key
  GROUP BY s.id) AS j
WHERE steps_v6.id = j.id;

CREATE TABLE step_edges (
  child_id INTEGER NOT NULL REFERENCES steps_v6(id),
  parent_id INTEGER NOT NULL REFERENCES steps_v6(id),
  PRIMARY KEY (child_id, parent_id)
) WITHOUT ROWID;
INSERT INTO step_edges(child_id, parent_id)
SELECT DISTINCT s.id, src.id
FROM step_inputs i JOIN steps_v6 s ON s.key = i.step_key
JOIN steps_v6 src ON src.key = i.source_step_key;

CREATE TABLE campaign_steps_v6 (
  campaign_id TEXT NOT NULL REFERENCES campaigns(id),
  step_id INTEGER NOT NULL REFERENCES steps_v6(id),
  node_id TEXT NOT NULL,
  PRIMARY KEY (campaign_id, step_id)
) WITHOUT ROWID;
INSERT INTO campaign_steps_v6(campaign_id, step_id, node_id)
SELECT cs.campaign_id, s.id, cs.node_id
FROM campaign_steps cs JOIN steps_v6 s ON s.key = cs.step_key;

CREATE TABLE step_outputs_v6 (
  step_id INTEGER NOT NULL REFERENCES steps_v6(id),
  name TEXT NOT NULL,
  digest TEXT NOT NULL REFERENCES artifacts(digest),
  PRIMARY KEY (step_id, name)
) WITHOUT ROWID;
INSERT INTO step_outputs_v6(step_id, name, digest)
SELECT s.id, o.name, o.digest
FROM step_outputs o JOIN steps_v6 s ON s.key = o.step_key;

DROP TABLE edges;
DROP TABLE step_inputs;
DROP TABLE campaign_steps;
DROP TABLE step_outputs;
DROP TABLE steps;
ALTER TABLE steps_v6 RENAME TO steps;
ALTER TABLE campaign_steps_v6 RENAME TO campaign_steps;
ALTER TABLE step_outputs_v6 RENAME TO step_outputs;
DROP INDEX steps_v6_by_key;

CREATE INDEX steps_by_key_hash ON steps(key_hash);
CREATE INDEX steps_ready ON steps(priority DESC, ordinal, created_us, id)
  WHERE state = 2;
CREATE INDEX steps_leased ON steps(lease_expiry_us) WHERE state = 3;
CREATE INDEX steps_by_lease ON steps(lease_id) WHERE lease_id IS NOT NULL;
CREATE INDEX step_edges_by_parent ON step_edges(parent_id, child_id);
CREATE INDEX campaign_steps_by_step ON campaign_steps(step_id);
CREATE TABLE step_counts (
  state INTEGER PRIMARY KEY,
  n INTEGER NOT NULL
);
INSERT INTO step_counts(state, n) SELECT state, count(*) FROM steps GROUP BY state;
)sql";

// Steps are found by key through the store's in-memory StepIndex
// (cohort_step_id, registered by CoordinatorStore::Open), which answers the
// row id: "id = cohort_step_id(?1) AND key = ?1". SQLite's index on key_hash
// cost one random B-tree insert per new step, a fifth of a 10^5-step submit.
// key_hash stays in the row: the index is loaded from it at start.
constexpr const char* kMigration7 = R"sql(
DROP INDEX steps_by_key_hash;
)sql";

// Campaigns belong to the client identity that submitted them (the token's
// name, else its id); '' for campaigns submitted before owners existed.
constexpr const char* kMigration8 = R"sql(
ALTER TABLE campaigns ADD COLUMN owner TEXT NOT NULL DEFAULT '';
)sql";

// A worker id belongs to the token that first registered it; a token may
// be issued for one worker id only.
constexpr const char* kMigration9 = R"sql(
ALTER TABLE workers ADD COLUMN token_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN worker_id TEXT NOT NULL DEFAULT '';
)sql";

// Reasoning characters beside the other counts, so that answer lengths are
// read from columns (the dashboard) without parsing bodies; NULL for rows
// stored before, whose bodies still have them.
constexpr const char* kMigration10 = R"sql(
ALTER TABLE results ADD COLUMN reasoning_chars INTEGER;
)sql";

// What the dashboard reads of results without their bodies: the table's
// rows carry their bodies inline, so a scan of it reads every completion
// (10^6 rows: 1.2 GB of pages for one scoreboard). results_lengths covers
// the length tables (~80 bytes a row); result_tallies keeps each step's
// rows per verdict as InsertResults writes them (results are never updated
// or deleted), so a scoreboard reads one row per step and verdict.
constexpr const char* kMigration11 = R"sql(
CREATE INDEX results_lengths ON results(step_key, problem_id, sample_index, verdict,
  finish_reason, completion_tokens, reasoning_tokens, completion_chars, reasoning_chars);
CREATE TABLE result_tallies (
  step_key TEXT NOT NULL,
  verdict INTEGER NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY (step_key, verdict)
) WITHOUT ROWID;
INSERT INTO result_tallies(step_key, verdict, n)
SELECT step_key, verdict, count(*) FROM results GROUP BY step_key, verdict;
)sql";

// 12: what each node of a campaign is for, as its client named it (the
// dashboard names steps by these instead of expanding the spec again).
// Campaigns from before keep '' and are named by expansion.
constexpr const char* kMigration12 = R"sql(
ALTER TABLE campaign_steps ADD COLUMN model TEXT NOT NULL DEFAULT '';
ALTER TABLE campaign_steps ADD COLUMN suite TEXT NOT NULL DEFAULT '';
)sql";

// What a worker measured of a step's outputs (a quantized GGUF's size,
// parameters, bits per weight), for the report's tier table.
constexpr const char* kMigration13 = R"sql(
ALTER TABLE steps ADD COLUMN facts_json TEXT;
)sql";

// 14: the length tables' rows clustered by suite. results_lengths (schema
// 11) was keyed by step key, a digest, so one suite's steps (one in ten of a
// sweep's score steps) sat one or two to a page across the whole index: the
// first read of a suite's length table after a restart touched ~6,000
// scattered pages (0.6-0.7 s with cohort.db out of the page cache, 10^6
// rows). result_lengths is keyed by (cluster, step id, ...), where a step's
// cluster is the suite its campaign named it under (length_suites; kept in
// length_clusters from the step's first result, so its rows never move),
// and an integer step id instead of the 64-character key makes a row ~35
// bytes instead of ~110: a suite's rows fill ~800 pages of their own. The
// backfill is kBackfillResultLengths (2 s for 10^6 rows; a column on steps
// instead of length_clusters made it 25 s, rewriting every step's row).
constexpr const char* kMigration14 = R"sql(
CREATE TABLE length_suites (
  id INTEGER PRIMARY KEY,
  suite TEXT NOT NULL UNIQUE
);
CREATE TABLE length_clusters (
  step_id INTEGER PRIMARY KEY,
  cluster INTEGER NOT NULL
);
CREATE TABLE result_lengths (
  cluster INTEGER NOT NULL,
  step_id INTEGER NOT NULL,
  problem_id TEXT NOT NULL,
  sample_index INTEGER NOT NULL,
  verdict INTEGER NOT NULL,
  finish_reason TEXT,
  completion_tokens INTEGER,
  reasoning_tokens INTEGER,
  completion_chars INTEGER,
  reasoning_chars INTEGER,
  PRIMARY KEY (cluster, step_id, problem_id, sample_index)
) WITHOUT ROWID;
)sql";

// After kMigration14's tables: drops the index they replace.
constexpr const char* kMigration14Done = R"sql(
DROP INDEX results_lengths;
)sql";

const std::vector<std::string>& Migrations() {
  static const std::vector<std::string> migrations = {
      kMigration1,  kMigration2,  kMigration3,  kMigration4,  kMigration5,
      kMigration6,  kMigration7,  kMigration8,  kMigration9,  kMigration10,
      kMigration11, kMigration12, kMigration13,
      absl::StrCat(kMigration14, kBackfillResultLengths, kMigration14Done)};
  return migrations;
}

}  // namespace

absl::StatusOr<int> SchemaVersion(Database& db) {
  Statement& read = db.Prepare("PRAGMA user_version");
  int version = 0;
  if (read.Step()) version = static_cast<int>(read.ColumnInt64(0));
  while (read.Step()) {
  }
  COHORT_RETURN_IF_ERROR(read.status());
  return version;
}

int64_t StepKeyHash(absl::string_view key) {
  // FNV-1a, 64 bits, kept to 62 so that it is a positive SQLite integer.
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : key) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return static_cast<int64_t>(hash >> 2);
}

namespace {

void KeyHashFunction(sqlite3_context* context, int argc, sqlite3_value** argv) {
  if (argc != 1 || sqlite3_value_type(argv[0]) != SQLITE_TEXT) {
    sqlite3_result_null(context);
    return;
  }
  const auto* text = reinterpret_cast<const char*>(sqlite3_value_text(argv[0]));
  int size = sqlite3_value_bytes(argv[0]);
  sqlite3_result_int64(context, StepKeyHash(absl::string_view(text, size)));
}

}  // namespace

absl::Status RegisterStoreFunctions(Database& db) {
  int rc = sqlite3_create_function_v2(
      db.raw(), "cohort_key_hash", 1,
      SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, nullptr,
      &KeyHashFunction, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqliteError(rc, db.raw(), "registering cohort_key_hash");
  return absl::OkStatus();
}

absl::Status Migrate(Database& db) { return MigrateTo(db, kSchemaVersion); }

absl::Status MigrateTo(Database& db, int target) {
  COHORT_RETURN_IF_ERROR(RegisterStoreFunctions(db));
  const int goal = std::min(target, kSchemaVersion);
  for (;;) {
    Transaction tx(db);
    COHORT_RETURN_IF_ERROR(tx.Begin());
    // Read under the write lock: another process opening the same fresh
    // file (cohortd starting while `cohortd token create` runs) may have
    // migrated it since, and running its migration again would fail.
    COHORT_ASSIGN_OR_RETURN(int version, SchemaVersion(db));
    if (version > kSchemaVersion) {
      return absl::FailedPreconditionError(absl::StrCat(
          db.path(), ": schema version ", version, " is newer than this cohortd (",
          kSchemaVersion, "); upgrade cohortd"));
    }
    if (version >= goal) return tx.Commit();
    COHORT_RETURN_IF_ERROR(db.Execute(Migrations()[version]));
    COHORT_RETURN_IF_ERROR(db.Execute(absl::StrCat("PRAGMA user_version=", version + 1)));
    COHORT_RETURN_IF_ERROR(tx.Commit());
  }
}

}  // namespace cohort::server
