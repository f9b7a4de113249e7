#include "common/sqlite/batch_insert.h"

#include <string>

#include "common/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace cohort {
namespace {

using ::cohort::testing::StatusIs;
using ::testing::HasSubstr;

std::unique_ptr<Database> OpenWithTable() {
  auto db = Database::Open(":memory:", {});
  EXPECT_TRUE(db.ok());
  EXPECT_TRUE((*db)->Execute("CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT, c TEXT)")
                  .ok());
  return std::move(*db);
}

// Every row, whether it went through a full batch or the one-row tail.
TEST(BatchInsertTest, WritesFullBatchesAndTheTail) {
  auto db = OpenWithTable();
  BatchInsert insert(*db, "INSERT INTO t(a, b, c)", 3, /*rows_per_statement=*/8);
  for (int i = 0; i < 21; ++i) {  // two batches of 8 and a tail of 5
    insert.Int(i).Text("row" + std::to_string(i));
    if (i % 2 == 0) {
      insert.Null();
    } else {
      insert.TextOrNull(i % 3 == 0 ? "" : "odd");
    }
    ASSERT_OK(insert.EndRow());
  }
  EXPECT_EQ(insert.rows_written(), 16);  // the tail waits for Finish
  ASSERT_OK(insert.Finish());
  EXPECT_EQ(insert.rows_written(), 21);

  Statement& select = db->Prepare("SELECT a, b, c FROM t ORDER BY a");
  int expected = 0;
  while (select.Step()) {
    int a = static_cast<int>(select.ColumnInt64(0));
    EXPECT_EQ(a, expected);
    EXPECT_EQ(select.ColumnText(1), "row" + std::to_string(a));
    bool null_c = a % 2 == 0 || a % 3 == 0;
    EXPECT_EQ(select.ColumnIsNull(2), null_c) << a;
    if (!null_c) {
      EXPECT_EQ(select.ColumnText(2), "odd");
    }
    ++expected;
  }
  EXPECT_OK(select.status());
  EXPECT_EQ(expected, 21);
}

TEST(BatchInsertTest, AConstraintViolationIsAnError) {
  auto db = OpenWithTable();
  BatchInsert insert(*db, "INSERT INTO t(a, b, c)", 3, 4);
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK(insert.Int(7).Text("x").Null().EndRow());
  }
  EXPECT_THAT(insert.Finish(), StatusIs(absl::StatusCode::kAlreadyExists,
                                        HasSubstr("UNIQUE")));
}

TEST(BatchInsertTest, OrIgnoreSkipsDuplicates) {
  auto db = OpenWithTable();
  BatchInsert insert(*db, "INSERT OR IGNORE INTO t(a, b, c)", 3, 2);
  for (int i = 0; i < 5; ++i) ASSERT_OK(insert.Int(i % 2).Text("x").Null().EndRow());
  ASSERT_OK(insert.Finish());
  Statement& count = db->Prepare("SELECT count(*) FROM t");
  ASSERT_TRUE(count.Step());
  EXPECT_EQ(count.ColumnInt64(0), 2);
  count.Reset();
}

TEST(BatchInsertTest, ARowWithTheWrongNumberOfValuesIsRefused) {
  auto db = OpenWithTable();
  BatchInsert insert(*db, "INSERT INTO t(a, b, c)", 3);
  EXPECT_THAT(insert.Int(1).Text("only two").EndRow(),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("2 values, not 3")));
}

}  // namespace
}  // namespace cohort
