// BatchInsert: many rows into one table through multi-row INSERT statements.
//
// SQLite pays a fixed cost per statement execution (VM start and halt,
// constraint and foreign-key bookkeeping, our Bind/Run round trip). A submit
// of 10^5 steps inserts several rows per step; one statement per 64 rows
// instead of one per row is most of the difference between seconds and a
// fraction of one. Rows are buffered (values copied once, into one buffer
// SQLite reads them from without another copy) and written when a batch is
// full; Finish() writes the rest one row per statement, so only two
// statement texts per table reach the Database's statement cache (each
// looked up there once per inserter). For a wide table one row per
// statement can be faster (`rows_per_statement`): measure.
//
// Use inside a transaction. Not thread-safe (like the Database it writes to).
#ifndef COHORT_COMMON_SQLITE_BATCH_INSERT_H_
#define COHORT_COMMON_SQLITE_BATCH_INSERT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/sqlite/database.h"

namespace cohort {

class BatchInsert {
 public:
  // `head` is everything before VALUES, e.g. "INSERT INTO edges(a, b)";
  // every row holds `columns` values.
  BatchInsert(Database& db, std::string head, int columns,
              int rows_per_statement = 64);
  BatchInsert(const BatchInsert&) = delete;
  BatchInsert& operator=(const BatchInsert&) = delete;

  // The next value of the current row, left to right.
  BatchInsert& Int(int64_t value);
  BatchInsert& Text(absl::string_view value);
  // NULL when `value` is empty.
  BatchInsert& TextOrNull(absl::string_view value);
  BatchInsert& Null();
  // Closes the current row (exactly `columns` values); writes a full batch.
  [[nodiscard]] absl::Status EndRow();
  // Writes every buffered row. The inserter can be reused afterwards.
  [[nodiscard]] absl::Status Finish();

  // Rows written so far (by this inserter; OR IGNORE skips are not counted).
  int64_t rows_written() const { return rows_written_; }

 private:
  // A text value is a range of text_: one buffer for every buffered row
  // instead of one allocation per value (a 10^5-step submit buffers about a
  // million values).
  struct Value {
    enum class Type { kNull, kInt, kText } type = Type::kNull;
    int64_t number = 0;  // kInt: the value; kText: offset in text_
    size_t size = 0;     // kText: length
  };
  absl::Status Write(Statement& insert, size_t first_row, int rows);

  Database& db_;
  const std::string head_;
  const int columns_;
  const int rows_per_statement_;
  const std::string batch_sql_;   // rows_per_statement_ rows
  const std::string single_sql_;  // one row
  // Prepared on first use; the Database's statement cache owns them and
  // keeps them for as long as the Database lives.
  Statement* batch_ = nullptr;
  Statement* single_ = nullptr;
  std::vector<Value> values_;     // buffered rows, row-major
  std::string text_;              // the text values of values_
  int64_t rows_written_ = 0;
};

}  // namespace cohort

#endif  // COHORT_COMMON_SQLITE_BATCH_INSERT_H_
