// File: json_fields.h
//
// Reads the members of a JSON object into typed fields, for the JSON
// results one cohort process writes and another reads back (a subcommand's
// summary, a quant map): each read names the member's path in its error
// ("summary.length.budget.at_or_over is missing", "... is string, not an
// integer"), so a reader is a list of one-line reads instead of
// contains/is_number checks.
//
//   JsonFields s(parsed, "summary");
//   COHORT_RETURN_IF_ERROR(s.CheckObject());
//   COHORT_RETURN_IF_ERROR(s.Int("n", &out.n));
//   COHORT_RETURN_IF_ERROR(s.NullableDouble("accuracy", &out.accuracy));
//
// Every error is kInvalidArgument. Integers must be JSON integers; doubles
// take any number.
//
// Thread safety: a JsonFields refers to the object it reads (which must
// outlive it) and is used by one thread.
#ifndef COHORT_COMMON_JSON_FIELDS_H_
#define COHORT_COMMON_JSON_FIELDS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace cohort {

class JsonFields {
 public:
  // `where` names `object` in errors: "summary", "quant_map.json".
  JsonFields(const nlohmann::json& object, std::string where);

  // kInvalidArgument unless the value read is an object.
  absl::Status CheckObject() const;
  bool Has(const char* key) const;
  // Missing or null.
  bool IsNull(const char* key) const;
  // kInvalidArgument naming the member when it is missing.
  absl::Status Require(const char* key) const;
  // The member (a null value when missing), named "<where>.<key>".
  JsonFields Child(const char* key) const;
  // The elements of an array member, each named "<where>.<key>[i]".
  absl::StatusOr<std::vector<JsonFields>> Elements(const char* key) const;

  absl::Status Int(const char* key, int64_t* out) const;
  absl::Status Uint(const char* key, uint64_t* out) const;
  absl::Status Double(const char* key, double* out) const;
  absl::Status Bool(const char* key, bool* out) const;
  absl::Status String(const char* key, std::string* out) const;
  // A number that may be null (a share or mean of nothing).
  absl::Status NullableDouble(const char* key, std::optional<double>* out) const;
  // An array of strings / of numbers.
  absl::Status Strings(const char* key, std::vector<std::string>* out) const;
  absl::Status Doubles(const char* key, std::vector<double>* out) const;
  // An object of integer counts ({"stop": 3, "length": 1}).
  absl::Status Counts(const char* key, std::map<std::string, int64_t>* out) const;

 private:
  absl::StatusOr<const nlohmann::json*> Member(const char* key) const;
  absl::Status WrongType(const char* key, const nlohmann::json& value, const char* wanted) const;

  const nlohmann::json& object_;
  std::string where_;
};

}  // namespace cohort

#endif  // COHORT_COMMON_JSON_FIELDS_H_
