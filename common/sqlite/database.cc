#include "common/sqlite/database.h"

#include <sqlite3.h>

#include "absl/strings/str_cat.h"
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
  COHORT_RETURN_IF_ERROR(db->Execute("PRAGMA journal_mode=WAL"));
  COHORT_RETURN_IF_ERROR(db->Execute(
      options.durability == Durability::kFull ? "PRAGMA synchronous=FULL"
                                              : "PRAGMA synchronous=NORMAL"));
  COHORT_RETURN_IF_ERROR(db->Execute("PRAGMA foreign_keys=ON"));
  // A corrupt or foreign file must fail here, not at the first query.
  COHORT_RETURN_IF_ERROR(db->Execute("SELECT count(*) FROM sqlite_master"));
  return db;
}

Database::~Database() {
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
