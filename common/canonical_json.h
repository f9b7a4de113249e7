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

// How deep arrays and objects may nest in JSON we parse. Our code (canonical
// form, copies, dump) recurses once per level, so an unbounded depth let one
// 40 KB request overflow cohortd's stack; real documents stay under 20.
inline constexpr int kMaxJsonDepth = 64;

// kInvalidArgument naming `source` when arrays and objects in `text` nest
// deeper than `max_depth`. A linear scan (strings skipped) that does not
// recurse; run it before parsing anything that came from outside.
absl::Status CheckJsonDepth(absl::string_view text, const std::string& source,
                            int max_depth = kMaxJsonDepth);

// Parses JSON text without exceptions; kInvalidArgument names `source` and
// the byte offset of the error, or the nesting depth past kMaxJsonDepth.
absl::StatusOr<nlohmann::json> ParseJson(const std::string& text,
                                         const std::string& source);

// For callers that only need "a value or nothing": the parsed value, or a
// discarded one (is_discarded()) for invalid JSON or nesting past
// kMaxJsonDepth. Never throws.
nlohmann::json ParseJsonOrDiscarded(absl::string_view text);

}  // namespace cohort

#endif  // COHORT_COMMON_CANONICAL_JSON_H_
