#include "worker/eval/csv.h"

#include "absl/strings/str_cat.h"

namespace cohort::worker::eval {
namespace {

// Splits the text into records of raw fields, tracking start lines.
class CsvLexer {
 public:
  CsvLexer(absl::string_view text, const std::string& source)
      : text_(text), source_(source) {
    if (text_.substr(0, 3) == "\xEF\xBB\xBF") text_.remove_prefix(3);
  }

  // Reads one record into *fields; false at the end of the input.
  absl::StatusOr<bool> Next(std::vector<std::string>* fields, int* start_line) {
    fields->clear();
    if (pos_ >= text_.size()) return false;
    *start_line = line_;
    std::string field;
    while (true) {
      if (pos_ < text_.size() && text_[pos_] == '"') {
        absl::Status s = QuotedField(&field);
        if (!s.ok()) return s;
      } else {
        PlainField(&field);
      }
      fields->push_back(std::move(field));
      field.clear();
      if (pos_ >= text_.size()) return true;
      char c = text_[pos_++];
      if (c == ',') continue;
      if (c == '\r' && pos_ < text_.size() && text_[pos_] == '\n') ++pos_;
      ++line_;
      return true;
    }
  }

 private:
  void PlainField(std::string* field) {
    while (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != '\n' &&
           text_[pos_] != '\r') {
      field->push_back(text_[pos_++]);
    }
  }

  absl::Status QuotedField(std::string* field) {
    int open_line = line_;
    ++pos_;  // opening quote
    while (true) {
      if (pos_ >= text_.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat(source_, ":", open_line, ": unterminated quoted field"));
      }
      char c = text_[pos_++];
      if (c == '"') {
        if (pos_ < text_.size() && text_[pos_] == '"') {
          field->push_back('"');
          ++pos_;
          continue;
        }
        break;
      }
      if (c == '\n') ++line_;
      field->push_back(c);
    }
    if (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != '\n' &&
        text_[pos_] != '\r') {
      return absl::InvalidArgumentError(
          absl::StrCat(source_, ":", line_, ": text after a closing quote"));
    }
    return absl::OkStatus();
  }

  absl::string_view text_;
  const std::string& source_;
  size_t pos_ = 0;
  int line_ = 1;
};

}  // namespace

absl::StatusOr<std::vector<CsvRecord>> ParseCsv(absl::string_view text,
                                                const std::string& source) {
  CsvLexer lexer(text, source);
  std::vector<std::string> header;
  std::vector<std::string> fields;
  int line = 0;
  absl::StatusOr<bool> more = lexer.Next(&header, &line);
  if (!more.ok()) return more.status();
  if (!*more || header.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": empty CSV, no header"));
  }
  std::vector<CsvRecord> records;
  while (true) {
    more = lexer.Next(&fields, &line);
    if (!more.ok()) return more.status();
    if (!*more) break;
    if (fields.size() == 1 && fields[0].empty()) continue;  // blank line
    if (fields.size() != header.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ":", line, ": ", fields.size(), " fields, header has ", header.size()));
    }
    CsvRecord record;
    record.line = line;
    for (size_t i = 0; i < header.size(); ++i) record.fields[header[i]] = fields[i];
    records.push_back(std::move(record));
  }
  return records;
}

}  // namespace cohort::worker::eval
