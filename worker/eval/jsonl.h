// File: jsonl.h
//
// Reading the published dataset files: whole files (plain or gzip, told by
// the ".gz" suffix or the gzip magic bytes) and JSON Lines, one object per
// non-blank line. Errors name the file and the 1-based line, so a user can
// open the file at the bad record.
#ifndef COHORT_WORKER_EVAL_JSONL_H_
#define COHORT_WORKER_EVAL_JSONL_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace cohort::worker::eval {

// The file's bytes, gunzipped when it is gzip. kNotFound for a missing file,
// kInvalidArgument for a corrupt gzip stream.
absl::StatusOr<std::string> ReadMaybeGzip(const std::string& path);

struct JsonLine {
  int line = 0;  // 1-based line number in the file
  nlohmann::json value;
};

// Every non-blank line parsed as a JSON object. A line that is not valid
// JSON, or not an object, is kInvalidArgument "<path>:<line>: ...".
absl::StatusOr<std::vector<JsonLine>> ReadJsonLines(const std::string& path);

// Typed field access for loaders: kInvalidArgument "<path>:<line>: field
// '<key>' ..." when the key is missing or has the wrong type.
absl::StatusOr<std::string> GetString(const JsonLine& row, const std::string& key,
                                      const std::string& path);

// Looks a key up ignoring ASCII case (AIME files spell it Answer/answer).
const nlohmann::json* FindKeyIgnoreCase(const nlohmann::json& object,
                                        const std::string& key);

// A JSON string or integer as text (ids are written both ways); "" for
// anything else.
std::string ScalarToString(const nlohmann::json& value);

}  // namespace cohort::worker::eval

#endif  // COHORT_WORKER_EVAL_JSONL_H_
