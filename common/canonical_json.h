// File: canonical_json.h
//
// Canonical JSON for hashing (step keys, protocol digests): object keys sorted
// by code point, no insignificant white space, strings as UTF-8 with only the
// mandatory escapes, numbers in their shortest round-trip form, and a float
// with an integral value below 2^53 written as an integer (1.0 -> 1, -0.0 ->
// 0), so that equal values always give equal bytes (in the spirit of
// RFC 8785). NaN and infinities have no JSON form and are refused.
#ifndef COHORT_COMMON_CANONICAL_JSON_H_
#define COHORT_COMMON_CANONICAL_JSON_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace cohort {

// kInvalidArgument for NaN/Inf or invalid UTF-8, naming the JSON path.
absl::StatusOr<std::string> CanonicalJson(const nlohmann::json& value);

// Appends `text` to `out` as a JSON string in canonical form, as
// CanonicalJson(json(text)) writes it. Names and digests (nearly always
// printable ASCII with nothing to escape) take a fast path. kInvalidArgument
// for invalid UTF-8, with `out` as it was.
absl::Status AppendJsonString(absl::string_view text, std::string* out);

// sha256 hex of CanonicalJson(value).
absl::StatusOr<std::string> CanonicalJsonSha256(const nlohmann::json& value);

// Parses JSON text without exceptions; kInvalidArgument names `source` and
// the byte offset of the error.
absl::StatusOr<nlohmann::json> ParseJson(const std::string& text,
                                         const std::string& source);

}  // namespace cohort

#endif  // COHORT_COMMON_CANONICAL_JSON_H_
