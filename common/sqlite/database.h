// File: database.h
//
// A thin, exception-free wrapper over one SQLite connection, shaped after
// chromium's sql::Database / Statement / Transaction:
//
//   COHORT_ASSIGN_OR_RETURN(std::unique_ptr<Database> db,
//                           Database::Open(path, DatabaseOptions{}));
//   Transaction tx(*db);
//   COHORT_RETURN_IF_ERROR(tx.Begin());            // BEGIN IMMEDIATE
//   Statement& insert = db->Prepare("INSERT INTO t(a, b) VALUES(?, ?)");
//   insert.Bind(1, int64_t{7}).Bind(2, "x");
//   COHORT_RETURN_IF_ERROR(insert.Run());
//   COHORT_RETURN_IF_ERROR(tx.Commit());            // rolled back if not reached
//
// Prepared statements are cached per SQL text and reset after use, so hot
// paths never re-parse SQL. Every write transaction starts with BEGIN
// IMMEDIATE: a deferred transaction that reads then writes can fail with
// SQLITE_BUSY at once, ignoring busy_timeout.
//
// Not thread-safe: one Database is used by one thread at a time (the
// coordinator guards it with its single mutex). With Checkpoint::kBackground
// a Database also owns a checkpoint thread, which touches only its own
// connection.
#ifndef COHORT_COMMON_SQLITE_DATABASE_H_
#define COHORT_COMMON_SQLITE_DATABASE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

struct sqlite3;
struct sqlite3_stmt;

namespace cohort {

enum class Durability {
  kFull,    // synchronous=FULL: every commit survives power loss
  kNormal,  // synchronous=NORMAL in WAL: survives kill -9; power loss may
            // lose commits since the last checkpoint
};

enum class Checkpoint {
  // SQLite's automatic checkpoint: the commit that takes the log past 1,000
  // pages copies it into the database file before it returns.
  kInline,
  // A thread with its own connection checkpoints (PASSIVE) every
  // `checkpoint_interval_ms`; commits never wait for a checkpoint, so a big
  // commit returns as soon as its log is durable.
  kBackground,
};

struct DatabaseOptions {
  Durability durability = Durability::kFull;
  int busy_timeout_ms = 5000;
  Checkpoint checkpoint = Checkpoint::kInline;
  int checkpoint_interval_ms = 500;
};

class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  // A statement whose SQL failed to prepare: every Step/Run reports `error`.
  Statement(sqlite3* db, absl::Status error)
      : db_(db), stmt_(nullptr), prepare_error_(std::move(error)) {}
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Parameters are 1-based, as in SQLite.
  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, int value) { return Bind(index, int64_t{value}); }
  Statement& Bind(int index, uint64_t value) {
    return Bind(index, static_cast<int64_t>(value));
  }
  Statement& Bind(int index, double value);
  Statement& Bind(int index, absl::string_view text);
  Statement& Bind(int index, const char* text) {
    return Bind(index, absl::string_view(text));
  }
  Statement& Bind(int index, const std::string& text) {
    return Bind(index, absl::string_view(text));
  }
  Statement& BindBlob(int index, absl::string_view bytes);
  Statement& BindNull(int index);
  // Binds `text` without copying it: it must stay alive and unchanged until
  // the statement has run and been Reset (which clears every binding).
  Statement& BindTextNoCopy(int index, absl::string_view text);

  // Advances to the next row: true with a row, false when done or on error
  // (then status() says which). Reset happens automatically at the end.
  bool Step();
  // Runs a statement that returns no rows.
  [[nodiscard]] absl::Status Run();
  absl::Status status() const { return status_; }

  int64_t ColumnInt64(int column) const;
  double ColumnDouble(int column) const;
  std::string ColumnText(int column) const;
  bool ColumnIsNull(int column) const;

  // Rows changed by the last Run (sqlite3_changes).
  int64_t Changes() const;
  void Reset();

 private:
  void RecordBindError(int rc);
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  absl::Status status_;
  absl::Status prepare_error_;
  bool stepping_ = false;
};

class WalCheckpointer;

class Database {
 public:
  // Opens (creating) the file in WAL mode with the given durability and
  // foreign keys on. ":memory:" works for tests.
  static absl::StatusOr<std::unique_ptr<Database>> Open(
      const std::string& path, const DatabaseOptions& options);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs one or more SQL statements with no parameters (schema, pragmas).
  [[nodiscard]] absl::Status Execute(absl::string_view sql);
  // Returns a cached prepared statement, reset and with bindings cleared.
  // A statement that fails to prepare is a bug in our SQL: the returned
  // Statement then reports the error from Step/Run.
  Statement& Prepare(const std::string& sql);

  int64_t LastInsertRowId() const;
  const std::string& path() const { return path_; }
  Durability durability() const { return durability_; }
  sqlite3* raw() { return db_; }

 private:
  Database(sqlite3* db, std::string path, Durability durability);
  sqlite3* db_;
  std::string path_;
  Durability durability_;
  std::map<std::string, std::unique_ptr<Statement>> cache_;
  std::unique_ptr<WalCheckpointer> checkpointer_;  // kBackground only
};

// RAII write transaction (BEGIN IMMEDIATE). Rolls back on destruction unless
// committed. Not nestable.
class Transaction {
 public:
  // kDeferredSync: this transaction's commit skips the fsync even on a FULL
  // database (WAL + synchronous=NORMAL for this one commit). It survives a
  // crash of the process, not of the machine: a power loss may undo it
  // (and only it and later such commits; the next ordinary commit syncs
  // the log up to itself). For writes whose loss is harmless, e.g. a lease
  // renewal the next heartbeat repeats.
  enum class Sync { kDatabaseDefault, kDeferredSync };
  explicit Transaction(Database& db, Sync sync = Sync::kDatabaseDefault)
      : db_(db), sync_(sync) {}
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  [[nodiscard]] absl::Status Begin();
  [[nodiscard]] absl::Status Commit();
  void Rollback();

 private:
  bool Relaxed() const;
  absl::Status RestoreSync();
  Database& db_;
  const Sync sync_;
  bool open_ = false;
};

// Maps an SQLite result code to a Status: SQLITE_BUSY/LOCKED -> kUnavailable
// (retry), SQLITE_FULL -> kResourceExhausted, SQLITE_CONSTRAINT ->
// kAlreadyExists, SQLITE_CORRUPT/NOTADB -> kDataLoss, else kInternal.
absl::Status SqliteError(int rc, sqlite3* db, absl::string_view context);

}  // namespace cohort

#endif  // COHORT_COMMON_SQLITE_DATABASE_H_
