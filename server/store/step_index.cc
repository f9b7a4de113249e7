#include "server/store/step_index.h"

#include "common/status_macros.h"
#include "server/store/schema.h"
#include "sqlite3.h"

namespace cohort::server {
namespace {

void StepIdFunction(sqlite3_context* context, int argc, sqlite3_value** argv) {
  if (argc != 1 || sqlite3_value_type(argv[0]) != SQLITE_TEXT) {
    sqlite3_result_null(context);
    return;
  }
  const auto* index = static_cast<const StepIndex*>(sqlite3_user_data(context));
  const auto* text = reinterpret_cast<const char*>(sqlite3_value_text(argv[0]));
  int64_t id = index->Find(absl::string_view(text, sqlite3_value_bytes(argv[0])));
  if (id == 0) {
    sqlite3_result_null(context);
  } else {
    sqlite3_result_int64(context, id);
  }
}

}  // namespace

int64_t StepIndex::Find(int64_t hash, absl::string_view key) const {
  if (!by_key_.empty()) {
    auto colliding = by_key_.find(key);
    if (colliding != by_key_.end()) return colliding->second;
  }
  auto found = by_hash_.find(hash);
  return found == by_hash_.end() ? 0 : found->second;
}

int64_t StepIndex::Find(absl::string_view key) const {
  return Find(StepKeyHash(key), key);
}

void StepIndex::Add(int64_t hash, absl::string_view key, int64_t id) {
  bool first_with_hash = by_hash_.emplace(hash, id).second;
  if (!first_with_hash) by_key_.emplace(std::string(key), id);
  if (marked_) added_.emplace_back(hash, first_with_hash ? "" : std::string(key));
}

void StepIndex::Mark() {
  marked_ = true;
  added_.clear();
}

void StepIndex::Keep() {
  added_.clear();
  marked_ = false;
}

void StepIndex::Undo() {
  // Latest first: a key that went to by_key_ never displaced its hash's
  // first entry, which an earlier Add (or a stored row) made.
  for (auto it = added_.rbegin(); it != added_.rend(); ++it) {
    if (it->second.empty()) {
      by_hash_.erase(it->first);
    } else {
      by_key_.erase(it->second);
    }
  }
  added_.clear();
  marked_ = false;
}

absl::Status StepIndex::Load(Database& db) {
  // Keys are read only for the rare rows whose hash an earlier row had.
  std::vector<int64_t> colliding;
  Statement& rows = db.Prepare("SELECT key_hash, id FROM steps ORDER BY id");
  while (rows.Step()) {
    int64_t id = rows.ColumnInt64(1);
    if (!by_hash_.emplace(rows.ColumnInt64(0), id).second) colliding.push_back(id);
  }
  COHORT_RETURN_IF_ERROR(rows.status());
  for (int64_t id : colliding) {
    Statement& key = db.Prepare("SELECT key FROM steps WHERE id = ?");
    key.Bind(1, id);
    if (key.Step()) by_key_.emplace(key.ColumnText(0), id);
    while (key.Step()) {
    }
    COHORT_RETURN_IF_ERROR(key.status());
  }
  return absl::OkStatus();
}

absl::Status StepIndex::RegisterSqlFunction(Database& db) const {
  // Not deterministic: the answer changes as steps are added (SQLite
  // evaluates it once per statement run for "id = cohort_step_id(?)").
  int rc = sqlite3_create_function_v2(
      db.raw(), "cohort_step_id", 1, SQLITE_UTF8 | SQLITE_DIRECTONLY,
      const_cast<StepIndex*>(this), &StepIdFunction, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqliteError(rc, db.raw(), "registering cohort_step_id");
  return absl::OkStatus();
}

}  // namespace cohort::server
