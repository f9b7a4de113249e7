#include "common/sqlite/batch_insert.h"

#include "absl/strings/str_cat.h"

namespace cohort {
namespace {

std::string StatementText(const std::string& head, int columns, int rows) {
  std::string row = "(";
  for (int c = 0; c < columns; ++c) absl::StrAppend(&row, c ? ", ?" : "?");
  row += ")";
  std::string sql = absl::StrCat(head, " VALUES ", row);
  for (int r = 1; r < rows; ++r) absl::StrAppend(&sql, ", ", row);
  return sql;
}

}  // namespace

BatchInsert::BatchInsert(Database& db, std::string head, int columns,
                         int rows_per_statement)
    : db_(db),
      head_(std::move(head)),
      columns_(columns),
      rows_per_statement_(rows_per_statement),
      batch_sql_(StatementText(head_, columns_, rows_per_statement_)),
      single_sql_(StatementText(head_, columns_, 1)) {
  values_.reserve(static_cast<size_t>(columns_ * rows_per_statement_));
  text_.reserve(static_cast<size_t>(columns_ * rows_per_statement_) * 32);
}

BatchInsert& BatchInsert::Int(int64_t value) {
  Value& v = values_.emplace_back();
  v.type = Value::Type::kInt;
  v.number = value;
  return *this;
}

BatchInsert& BatchInsert::Text(absl::string_view value) {
  Value& v = values_.emplace_back();
  v.type = Value::Type::kText;
  v.number = static_cast<int64_t>(text_.size());
  v.size = value.size();
  text_.append(value.data(), value.size());
  return *this;
}

BatchInsert& BatchInsert::TextOrNull(absl::string_view value) {
  return value.empty() ? Null() : Text(value);
}

BatchInsert& BatchInsert::Null() {
  values_.emplace_back();
  return *this;
}

absl::Status BatchInsert::EndRow() {
  size_t buffered = values_.size();
  if (buffered % static_cast<size_t>(columns_) != 0) {
    return absl::InternalError(absl::StrCat(head_, ": a row has ",
                                            buffered % columns_, " values, not ",
                                            columns_));
  }
  if (buffered / columns_ < static_cast<size_t>(rows_per_statement_)) {
    return absl::OkStatus();
  }
  if (batch_ == nullptr) batch_ = &db_.Prepare(batch_sql_);
  absl::Status status = Write(*batch_, 0, rows_per_statement_);
  values_.clear();
  text_.clear();
  return status;
}

absl::Status BatchInsert::Finish() {
  if (values_.size() % static_cast<size_t>(columns_) != 0) {
    return absl::InternalError(absl::StrCat(head_, ": unfinished row"));
  }
  absl::Status status;
  size_t rows = values_.size() / columns_;
  if (rows > 0 && single_ == nullptr) single_ = &db_.Prepare(single_sql_);
  for (size_t row = 0; row < rows && status.ok(); ++row) status = Write(*single_, row, 1);
  values_.clear();
  text_.clear();
  return status;
}

absl::Status BatchInsert::Write(Statement& insert, size_t first_row, int rows) {
  size_t first = first_row * columns_;
  for (size_t i = 0; i < static_cast<size_t>(rows * columns_); ++i) {
    const Value& v = values_[first + i];
    int index = static_cast<int>(i) + 1;
    switch (v.type) {
      case Value::Type::kNull:
        insert.BindNull(index);
        break;
      case Value::Type::kInt:
        insert.Bind(index, v.number);
        break;
      case Value::Type::kText:
        insert.BindTextNoCopy(
            index, absl::string_view(text_).substr(static_cast<size_t>(v.number), v.size));
        break;
    }
  }
  // Run resets the statement when it ends, which also clears the bindings:
  // no pointer into text_ outlives this call.
  absl::Status status = insert.Run();
  if (status.ok()) rows_written_ += rows;
  return status;
}

}  // namespace cohort
