#include "common/sqlite/database.h"

#include <sqlite3.h>

#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/status_macros.h"

namespace cohort {

absl::Status SqliteError(int rc, sqlite3* db, absl::string_view context) {
  std::string message = absl::StrCat(
      context, ": ", db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc),
      " (sqlite ", rc, ")");
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(message);
    case SQLITE_FULL:
    case SQLITE_NOMEM:
      return absl::ResourceExhaustedError(message);
    case SQLITE_CONSTRAINT:
      return absl::AlreadyExistsError(message);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(message);
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
      return absl::PermissionDeniedError(message);
    default:
      return absl::InternalError(message);
  }
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

void Statement::RecordBindError(int rc) {
  if (rc != SQLITE_OK && status_.ok()) status_ = SqliteError(rc, db_, "bind");
}

Statement& Statement::Bind(int index, int64_t value) {
  RecordBindError(sqlite3_bind_int64(stmt_, index, value));
  return *this;
}

Statement& Statement::Bind(int index, double value) {
  RecordBindError(sqlite3_bind_double(stmt_, index, value));
  return *this;
}

Statement& Statement::Bind(int index, absl::string_view text) {
  RecordBindError(sqlite3_bind_text(stmt_, index, text.data(),
                                    static_cast<int>(text.size()),
                                    SQLITE_TRANSIENT));
  return *this;
}

Statement& Statement::BindTextNoCopy(int index, absl::string_view text) {
  RecordBindError(sqlite3_bind_text(stmt_, index, text.data(),
                                    static_cast<int>(text.size()), SQLITE_STATIC));
  return *this;
}

Statement& Statement::BindBlob(int index, absl::string_view bytes) {
  RecordBindError(sqlite3_bind_blob(stmt_, index, bytes.data(),
                                    static_cast<int>(bytes.size()),
                                    SQLITE_TRANSIENT));
  return *this;
}

Statement& Statement::BindNull(int index) {
  RecordBindError(sqlite3_bind_null(stmt_, index));
  return *this;
}

bool Statement::Step() {
  if (stmt_ == nullptr) {
    if (status_.ok()) status_ = prepare_error_;
    return false;
  }
  if (!status_.ok()) {
    Reset();
    return false;
  }
  stepping_ = true;
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc != SQLITE_DONE) {
    status_ = SqliteError(rc, db_, absl::StrCat("executing ", sqlite3_sql(stmt_)));
  }
  // Keep status_ past the reset so the caller can read it.
  absl::Status keep = status_;
  Reset();
  status_ = keep;
  return false;
}

absl::Status Statement::Run() {
  while (Step()) {
  }
  absl::Status result = status_;
  status_ = absl::OkStatus();
  return result;
}

int64_t Statement::ColumnInt64(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

double Statement::ColumnDouble(int column) const {
  return sqlite3_column_double(stmt_, column);
}

std::string Statement::ColumnText(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  int size = sqlite3_column_bytes(stmt_, column);
  return text == nullptr ? std::string()
                         : std::string(reinterpret_cast<const char*>(text), size);
}

bool Statement::ColumnIsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

int64_t Statement::Changes() const { return sqlite3_changes64(db_); }

void Statement::Reset() {
  if (stmt_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  stepping_ = false;
  status_ = absl::OkStatus();
}

// Copies the write-ahead log into the database file from its own thread and
// connection, so that no commit waits for it. PASSIVE: it never blocks
// writers or readers, and copies what no open read transaction still needs.
class WalCheckpointer {
 public:
  static absl::StatusOr<std::unique_ptr<WalCheckpointer>> Start(
      const std::string& path, absl::Duration interval) {
    sqlite3* raw = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &raw,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    // A connection opens the log at its first read; until then a checkpoint
    // finds no log to copy.
    if (rc == SQLITE_OK) {
      rc = sqlite3_exec(raw, "SELECT count(*) FROM sqlite_master", nullptr, nullptr,
                        nullptr);
    }
    if (rc != SQLITE_OK) {
      absl::Status status =
          SqliteError(rc, raw, absl::StrCat("opening ", path, " to checkpoint"));
      sqlite3_close(raw);
      return status;
    }
    return std::unique_ptr<WalCheckpointer>(new WalCheckpointer(raw, interval));
  }
  ~WalCheckpointer() {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    thread_.join();
    sqlite3_close(db_);
  }

 private:
  WalCheckpointer(sqlite3* db, absl::Duration interval)
      : db_(db), interval_(interval), thread_([this] { Loop(); }) {}

  void Loop() {
    absl::MutexLock lock(&mu_);
    while (!mu_.AwaitWithTimeout(absl::Condition(&stop_), interval_)) {
      mu_.Unlock();
      CheckpointOnce();
      mu_.Lock();
    }
  }

  // A busy or failed pass is retried on the next tick.
  void CheckpointOnce() {
    int log_frames = 0;
    int copied_frames = 0;
    (void)sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                    &log_frames, &copied_frames);
    // The log starts over only when a writer finds it all copied. Under a
    // steady stream of writes a passive pass may never catch up, and the
    // log (which a restart reads whole) would grow without bound: past
    // kMaxLogFrames, wait for the writer and start it over.
    if (log_frames > kMaxLogFrames) {
      sqlite3_busy_timeout(db_, 5000);
      (void)sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE,
                                      nullptr, nullptr);
      sqlite3_busy_timeout(db_, 0);
    }
  }

  static constexpr int kMaxLogFrames = 64 * 1024;  // 256 MiB of 4 KiB pages

  sqlite3* const db_;
  const absl::Duration interval_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: starts after the members it reads
};

namespace {

// PRAGMA journal_mode=WAL. On a fresh file that another process is switching
// at the same moment, SQLite answers "database is locked" at once, without
// its busy handler (that would risk a deadlock), so the switch is retried
// here for as long as a busy statement would wait.
absl::Status SwitchToWal(Database& db, int busy_timeout_ms) {
  const absl::Time give_up = absl::Now() + absl::Milliseconds(busy_timeout_ms);
  for (;;) {
    absl::Status status = db.Execute("PRAGMA journal_mode=WAL");
    if (status.ok() || status.code() != absl::StatusCode::kUnavailable ||
        absl::Now() >= give_up) {
      return status;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<Database>> Database::Open(
    const std::string& path, const DatabaseOptions& options) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &raw,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    absl::Status status = SqliteError(rc, raw, absl::StrCat("opening ", path));
    sqlite3_close(raw);
    return status;
  }
  std::unique_ptr<Database> db(new Database(raw, path, options.durability));
  sqlite3_busy_timeout(raw, options.busy_timeout_ms);
  sqlite3_extended_result_codes(raw, 1);
  COHORT_RETURN_IF_ERROR(SwitchToWal(*db, options.busy_timeout_ms));
  COHORT_RETURN_IF_ERROR(db->Execute(
      options.durability == Durability::kFull ? "PRAGMA synchronous=FULL"
                                              : "PRAGMA synchronous=NORMAL"));
  COHORT_RETURN_IF_ERROR(db->Execute("PRAGMA foreign_keys=ON"));
  // A corrupt or foreign file must fail here, not at the first query.
  COHORT_RETURN_IF_ERROR(db->Execute("SELECT count(*) FROM sqlite_master"));
  if (options.checkpoint == Checkpoint::kBackground && path != ":memory:") {
    COHORT_RETURN_IF_ERROR(db->Execute("PRAGMA wal_autocheckpoint=0"));
    COHORT_ASSIGN_OR_RETURN(
        db->checkpointer_,
        WalCheckpointer::Start(path, absl::Milliseconds(options.checkpoint_interval_ms)));
  }
  return db;
}

Database::Database(sqlite3* db, std::string path, Durability durability)
    : db_(db), path_(std::move(path)), durability_(durability) {}

Database::~Database() {
  checkpointer_.reset();
  cache_.clear();  // statements must be finalized before the close
  sqlite3_close(db_);
}

absl::Status Database::Execute(absl::string_view sql) {
  std::string text(sql);
  char* error = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &error);
  if (rc != SQLITE_OK) {
    std::string detail = error != nullptr ? error : sqlite3_errstr(rc);
    sqlite3_free(error);
    absl::Status status = SqliteError(rc, db_, "executing SQL");
    return absl::Status(status.code(), absl::StrCat(path_, ": ", detail, " in: ",
                                                    text.substr(0, 200)));
  }
  return absl::OkStatus();
}

Statement& Database::Prepare(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) {
    it->second->Reset();
    return *it->second;
  }
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  auto statement =
      rc == SQLITE_OK
          ? std::make_unique<Statement>(db_, stmt)
          : std::make_unique<Statement>(
                db_, SqliteError(rc, db_, absl::StrCat("preparing ", sql)));
  Statement& ref = *statement;
  cache_.emplace(sql, std::move(statement));
  return ref;
}

int64_t Database::LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }

Transaction::~Transaction() { Rollback(); }

bool Transaction::Relaxed() const {
  return sync_ == Sync::kDeferredSync && db_.durability() == Durability::kFull;
}

absl::Status Transaction::Begin() {
  // synchronous can only change outside a transaction.
  if (Relaxed()) COHORT_RETURN_IF_ERROR(db_.Execute("PRAGMA synchronous=NORMAL"));
  absl::Status status = db_.Execute("BEGIN IMMEDIATE");
  if (!status.ok()) {
    (void)RestoreSync();
    return status;
  }
  open_ = true;
  return absl::OkStatus();
}

absl::Status Transaction::RestoreSync() {
  if (!Relaxed()) return absl::OkStatus();
  return db_.Execute("PRAGMA synchronous=FULL");
}

absl::Status Transaction::Commit() {
  if (!open_) return absl::FailedPreconditionError("commit without begin");
  absl::Status status = db_.Execute("COMMIT");
  if (!status.ok()) {
    Rollback();
    return status;
  }
  open_ = false;
  return RestoreSync();
}

void Transaction::Rollback() {
  if (!open_) return;
  (void)db_.Execute("ROLLBACK");
  open_ = false;
  (void)RestoreSync();
}

}  // namespace cohort
