#include "common/sqlite/database.h"

#include <filesystem>
#include <fstream>

#include "absl/time/clock.h"

#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gtest/gtest.h"

namespace cohort {
namespace {

using ::cohort::testing::StatusIs;
using ::cohort::testing::TempDir;
using ::testing::HasSubstr;

TEST(DatabaseTest, OpensInWalModeAndRunsStatements) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open(dir.Join("x.db"), {}));
  Statement& mode = db->Prepare("PRAGMA journal_mode");
  ASSERT_TRUE(mode.Step());
  EXPECT_EQ(mode.ColumnText(0), "wal");
  mode.Reset();
  Statement& sync = db->Prepare("PRAGMA synchronous");
  ASSERT_TRUE(sync.Step());
  EXPECT_EQ(sync.ColumnInt64(0), 2);  // FULL
  sync.Reset();
  ASSERT_OK(db->Execute("CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT)"));
  for (int i = 0; i < 3; ++i) {
    Statement& insert = db->Prepare("INSERT INTO t(a, b) VALUES(?, ?)");
    ASSERT_OK(insert.Bind(1, i).Bind(2, "v" + std::to_string(i)).Run());
  }
  Statement& select = db->Prepare("SELECT a, b FROM t ORDER BY a");
  int rows = 0;
  while (select.Step()) {
    EXPECT_EQ(select.ColumnText(1), "v" + std::to_string(select.ColumnInt64(0)));
    ++rows;
  }
  EXPECT_OK(select.status());
  EXPECT_EQ(rows, 3);
}

TEST(DatabaseTest, TransactionRollsBackUnlessCommitted) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open(dir.Join("x.db"), {}));
  ASSERT_OK(db->Execute("CREATE TABLE t(a INTEGER)"));
  {
    Transaction tx(*db);
    ASSERT_OK(tx.Begin());
    ASSERT_OK(db->Execute("INSERT INTO t VALUES(1)"));
  }
  {
    Transaction tx(*db);
    ASSERT_OK(tx.Begin());
    ASSERT_OK(db->Execute("INSERT INTO t VALUES(2)"));
    ASSERT_OK(tx.Commit());
  }
  Statement& count = db->Prepare("SELECT sum(a) FROM t");
  ASSERT_TRUE(count.Step());
  EXPECT_EQ(count.ColumnInt64(0), 2);
}

TEST(DatabaseTest, ErrorsAreStatuses) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open(dir.Join("x.db"), {}));
  EXPECT_THAT(db->Execute("SELEC 1"), StatusIs(absl::StatusCode::kInternal,
                                                    HasSubstr("syntax error")));
  Statement& bad = db->Prepare("SELECT * FROM missing_table");
  EXPECT_FALSE(bad.Step());
  EXPECT_THAT(bad.status(), StatusIs(absl::StatusCode::kInternal,
                                     HasSubstr("missing_table")));
  ASSERT_OK(db->Execute("CREATE TABLE u(a INTEGER PRIMARY KEY)"));
  ASSERT_OK(db->Execute("INSERT INTO u VALUES(1)"));
  EXPECT_THAT(db->Execute("INSERT INTO u VALUES(1)"),
              StatusIs(absl::StatusCode::kAlreadyExists, ::testing::_));
}

TEST(DatabaseTest, GarbageFileIsRefused) {
  TempDir dir;
  std::ofstream(dir.Join("junk.db")) << std::string(8192, 'j');
  EXPECT_THAT(Database::Open(dir.Join("junk.db"), {}),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("junk.db")));
}

}  // namespace
}  // namespace cohort

namespace cohort {
namespace {

int64_t Synchronous(Database& db) {
  Statement& sync = db.Prepare("PRAGMA synchronous");
  int64_t value = sync.Step() ? sync.ColumnInt64(0) : -1;
  sync.Reset();
  return value;
}

// A deferred-sync commit skips only its own fsync: the database is FULL
// again for the next transaction, committed or rolled back.
TEST(DatabaseTest, DeferredSyncTransactionRestoresFullDurability) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open(dir.Join("x.db"), {}));
  ASSERT_OK(db->Execute("CREATE TABLE t(a INTEGER)"));
  {
    Transaction tx(*db, Transaction::Sync::kDeferredSync);
    ASSERT_OK(tx.Begin());
    EXPECT_EQ(Synchronous(*db), 1);  // NORMAL
    ASSERT_OK(db->Execute("INSERT INTO t VALUES(1)"));
    ASSERT_OK(tx.Commit());
  }
  EXPECT_EQ(Synchronous(*db), 2);  // FULL
  {
    Transaction tx(*db, Transaction::Sync::kDeferredSync);
    ASSERT_OK(tx.Begin());
    ASSERT_OK(db->Execute("INSERT INTO t VALUES(2)"));
  }  // rolled back
  EXPECT_EQ(Synchronous(*db), 2);
  Statement& rows = db->Prepare("SELECT group_concat(a) FROM t");
  ASSERT_TRUE(rows.Step());
  EXPECT_EQ(rows.ColumnText(0), "1");
  rows.Reset();

  DatabaseOptions normal;
  normal.durability = Durability::kNormal;
  ASSERT_OK_AND_ASSIGN(auto relaxed, Database::Open(dir.Join("y.db"), normal));
  {
    Transaction tx(*relaxed, Transaction::Sync::kDeferredSync);
    ASSERT_OK(tx.Begin());
    ASSERT_OK(tx.Commit());
  }
  EXPECT_EQ(Synchronous(*relaxed), 1);
}

}  // namespace
}  // namespace cohort

namespace cohort {
namespace {

int64_t PragmaValue(Database& db, const std::string& pragma) {
  Statement& read = db.Prepare("PRAGMA " + pragma);
  int64_t value = read.Step() ? read.ColumnInt64(0) : -1;
  read.Reset();
  return value;
}

// With a background checkpoint no commit copies the log into the file (SQLite's
// automatic checkpoint is off), yet the file catches up within moments.
TEST(DatabaseTest, BackgroundCheckpointCopiesTheLogWithoutTheCommitWaiting) {
  TempDir dir;
  DatabaseOptions options;
  options.checkpoint = Checkpoint::kBackground;
  options.checkpoint_interval_ms = 10;
  const std::string path = dir.Join("x.db");
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open(path, options));
  EXPECT_EQ(PragmaValue(*db, "wal_autocheckpoint"), 0);
  ASSERT_OK(db->Execute("CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT)"));
  {
    Transaction tx(*db);
    ASSERT_OK(tx.Begin());
    for (int i = 0; i < 4000; ++i) {
      Statement& insert = db->Prepare("INSERT INTO t(a, b) VALUES(?, ?)");
      ASSERT_OK(insert.Bind(1, i).Bind(2, std::string(1000, 'x')).Run());
    }
    ASSERT_OK(tx.Commit());
  }
  // 4 MB of rows: more than SQLite's 1,000-page automatic threshold.
  auto file_size = [&] { return std::filesystem::file_size(path); };
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (file_size() < 4'000'000 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_GE(file_size(), 4'000'000u);
  Statement& count = db->Prepare("SELECT count(*) FROM t");
  ASSERT_TRUE(count.Step());
  EXPECT_EQ(count.ColumnInt64(0), 4000);
  count.Reset();
}

}  // namespace
}  // namespace cohort
