// File: csv.h
//
// An RFC 4180 CSV reader for the GPQA release (quoted fields may hold commas,
// doubled quotes and newlines; a UTF-8 byte order mark and CRLF line ends
// are accepted). Rows come back as header -> value maps with the 1-based
// line on which each record starts, for error messages.
#ifndef COHORT_WORKER_EVAL_CSV_H_
#define COHORT_WORKER_EVAL_CSV_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cohort::worker::eval {

struct CsvRecord {
  int line = 0;
  std::map<std::string, std::string> fields;
};

// kInvalidArgument "<source>:<line>: ..." for an unterminated quote, a
// stray character after a closing quote, or a row whose field count differs
// from the header's.
absl::StatusOr<std::vector<CsvRecord>> ParseCsv(absl::string_view text,
                                                const std::string& source);

}  // namespace cohort::worker::eval

#endif  // COHORT_WORKER_EVAL_CSV_H_
