// StepIndex: candidates by hash, colliding keys by whole key, undo of a
// rolled-back transaction's entries, loading from and answering for SQL.
#include "server/store/step_index.h"

#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gtest/gtest.h"
#include "server/store/schema.h"

namespace cohort::server {
namespace {

using ::cohort::testing::TempDir;

TEST(StepIndexTest, FindsAddedKeysAndNothingElse) {
  StepIndex index;
  index.Add(StepKeyHash("a"), "a", 1);
  index.Add(StepKeyHash("b"), "b", 2);
  EXPECT_EQ(index.Find("a"), 1);
  EXPECT_EQ(index.Find("b"), 2);
  EXPECT_EQ(index.Find("c"), 0);
}

// Keys that share a hash: each finds its own row; a third key with that
// hash gets the first one's row as its candidate, which the caller's key
// comparison then refuses.
TEST(StepIndexTest, KeysSharingAHashFindTheirOwnRows) {
  StepIndex index;
  index.Add(7, "first", 1);
  index.Add(7, "second", 2);
  EXPECT_EQ(index.Find(7, "first"), 1);
  EXPECT_EQ(index.Find(7, "second"), 2);
  EXPECT_EQ(index.Find(7, "third"), 1);
  EXPECT_EQ(index.Find(8, "first"), 0);
  EXPECT_EQ(index.size(), 2u);
}

TEST(StepIndexTest, UndoDropsWhatWasAddedSinceMarkAndKeepKeepsIt) {
  StepIndex index;
  index.Add(1, "stored", 1);
  index.Mark();
  index.Add(2, "new", 2);
  index.Add(1, "new, same hash", 3);
  index.Undo();
  EXPECT_EQ(index.Find(1, "stored"), 1);
  EXPECT_EQ(index.Find(2, "new"), 0);
  EXPECT_EQ(index.Find(1, "new, same hash"), 1);  // the stored key's row
  EXPECT_EQ(index.size(), 1u);

  index.Mark();
  index.Add(2, "new", 2);
  index.Keep();
  index.Undo();  // nothing marked: nothing to undo
  EXPECT_EQ(index.Find(2, "new"), 2);
}

class StepIndexSqlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = Database::Open(dir_.Join("steps.db"), {}).value();
    ASSERT_OK(db_->Execute(
        "CREATE TABLE steps (id INTEGER PRIMARY KEY, key TEXT, key_hash INTEGER)"));
  }
  void Insert(int64_t id, const std::string& key, int64_t hash) {
    Statement& insert = db_->Prepare("INSERT INTO steps VALUES(?, ?, ?)");
    insert.Bind(1, id).Bind(2, key).Bind(3, hash);
    ASSERT_OK(insert.Run());
  }
  // The id of the row holding `key`, looked up as the store's queries do.
  int64_t IdOf(const std::string& key) {
    Statement& select = db_->Prepare(
        "SELECT id FROM steps WHERE id = cohort_step_id(?1) AND key = ?1");
    select.Bind(1, key);
    int64_t id = select.Step() ? select.ColumnInt64(0) : 0;
    while (select.Step()) {
    }
    EXPECT_OK(select.status());
    return id;
  }
  TempDir dir_;
  StepIndex index_;  // outlives db_, whose connection calls it
  std::unique_ptr<Database> db_;
};

TEST_F(StepIndexSqlTest, LoadsTheTableAndAnswersQueriesByRowId) {
  Insert(1, "a", StepKeyHash("a"));
  Insert(2, "b", StepKeyHash("b"));
  Insert(3, "b'", StepKeyHash("b"));  // as if "b'" hashed like "b"
  ASSERT_OK(index_.Load(*db_));
  ASSERT_OK(index_.RegisterSqlFunction(*db_));
  EXPECT_EQ(index_.size(), 3u);
  EXPECT_EQ(index_.Find(StepKeyHash("b"), "b'"), 3);
  EXPECT_EQ(IdOf("a"), 1);
  EXPECT_EQ(IdOf("b"), 2);
  EXPECT_EQ(IdOf("nothing"), 0);

  // One row looked up by its id, not a scan of the table.
  Statement& plan = db_->Prepare(
      "EXPLAIN QUERY PLAN SELECT id FROM steps WHERE id = cohort_step_id(?1) AND key = ?1");
  plan.Bind(1, std::string("a"));
  std::string detail;
  while (plan.Step()) detail += plan.ColumnText(3);
  ASSERT_OK(plan.status());
  EXPECT_NE(detail.find("INTEGER PRIMARY KEY"), std::string::npos) << detail;
}

}  // namespace
}  // namespace cohort::server
