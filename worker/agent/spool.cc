#include "worker/agent/spool.h"

#include "common/status_macros.h"

namespace cohort::worker {

absl::StatusOr<std::unique_ptr<Spool>> Spool::Open(const std::string& path) {
  COHORT_ASSIGN_OR_RETURN(std::unique_ptr<Database> db, Database::Open(path, {}));
  COHORT_RETURN_IF_ERROR(db->Execute(
      "CREATE TABLE IF NOT EXISTS outbox ("
      " id INTEGER PRIMARY KEY AUTOINCREMENT,"
      " kind INTEGER NOT NULL,"
      " lease_id TEXT NOT NULL,"
      " epoch INTEGER NOT NULL,"
      " payload BLOB NOT NULL)"));
  return std::unique_ptr<Spool>(new Spool(std::move(db)));
}

absl::StatusOr<int64_t> Spool::Append(SpoolKind kind, const std::string& lease_id,
                                      uint64_t epoch, const std::string& payload) {
  absl::MutexLock lock(&mu_);
  Statement& insert = db_->Prepare(
      "INSERT INTO outbox(kind, lease_id, epoch, payload) VALUES(?, ?, ?, ?)");
  insert.Bind(1, static_cast<int>(kind)).Bind(2, lease_id).Bind(3, epoch).BindBlob(4, payload);
  COHORT_RETURN_IF_ERROR(insert.Run());
  return db_->LastInsertRowId();
}

absl::StatusOr<std::vector<SpoolEntry>> Spool::Pending(int limit) {
  absl::MutexLock lock(&mu_);
  Statement& select = db_->Prepare(
      "SELECT id, kind, lease_id, epoch, payload FROM outbox ORDER BY id LIMIT ?");
  select.Bind(1, limit);
  std::vector<SpoolEntry> entries;
  while (select.Step()) {
    SpoolEntry e;
    e.id = select.ColumnInt64(0);
    e.kind = static_cast<SpoolKind>(select.ColumnInt64(1));
    e.lease_id = select.ColumnText(2);
    e.epoch = static_cast<uint64_t>(select.ColumnInt64(3));
    e.payload = select.ColumnText(4);
    entries.push_back(std::move(e));
  }
  COHORT_RETURN_IF_ERROR(select.status());
  return entries;
}

absl::Status Spool::Remove(int64_t id) {
  absl::MutexLock lock(&mu_);
  Statement& remove = db_->Prepare("DELETE FROM outbox WHERE id = ?");
  remove.Bind(1, id);
  return remove.Run();
}

absl::Status Spool::RemoveLease(const std::string& lease_id) {
  absl::MutexLock lock(&mu_);
  Statement& remove = db_->Prepare("DELETE FROM outbox WHERE lease_id = ?");
  remove.Bind(1, lease_id);
  return remove.Run();
}

absl::StatusOr<int64_t> Spool::Count() {
  absl::MutexLock lock(&mu_);
  Statement& count = db_->Prepare("SELECT count(*) FROM outbox");
  int64_t n = count.Step() ? count.ColumnInt64(0) : 0;
  while (count.Step()) {
  }
  COHORT_RETURN_IF_ERROR(count.status());
  return n;
}

}  // namespace cohort::worker
