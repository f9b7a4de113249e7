#include "common/canonical_json.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "common/status_macros.h"

namespace cohort {
namespace {

using json = nlohmann::json;

constexpr double kMaxExactInteger = 9007199254740992.0;  // 2^53

bool IsIntegral(double d) { return d == std::floor(d) && std::fabs(d) < kMaxExactInteger; }

// Whether `value` holds a float that Normalize would rewrite or refuse: most
// documents have none, and they are written without a copy.
bool NeedsNormalizing(const json& value) {
  if (value.is_object() || value.is_array()) {
    for (const json& child : value) {
      if (NeedsNormalizing(child)) return true;
    }
    return false;
  }
  if (!value.is_number_float()) return false;
  const double d = value.get<double>();
  return !std::isfinite(d) || IsIntegral(d);
}

// Rewrites floats into their canonical number form in place, refusing
// non-finite values. On refusal `*path` is the JSON pointer of the value,
// built while unwinding: building it on the way down allocated once per
// value, most of the cost of canonicalising a 10^5-node graph.
absl::Status Normalize(json& value, std::string* path) {
  if (value.is_object()) {
    for (auto& [key, child] : value.items()) {
      if (absl::Status s = Normalize(child, path); !s.ok()) {
        *path = absl::StrCat("/", key, *path);
        return s;
      }
    }
  } else if (value.is_array()) {
    for (size_t i = 0; i < value.size(); ++i) {
      if (absl::Status s = Normalize(value[i], path); !s.ok()) {
        *path = absl::StrCat("/", i, *path);
        return s;
      }
    }
  } else if (value.is_number_float()) {
    double d = value.get<double>();
    if (!std::isfinite(d)) return absl::InvalidArgumentError("non-finite number");
    if (IsIntegral(d)) value = static_cast<int64_t>(d);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Dump(const json& value) {
  try {
    // nlohmann's object_t is a std::map, so keys come out sorted; dump()
    // writes doubles in shortest round-trip form.
    return value.dump(-1, ' ', /*ensure_ascii=*/false, json::error_handler_t::strict);
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("canonical JSON: ", e.what()));
  }
}

}  // namespace

absl::StatusOr<std::string> CanonicalJson(const json& value) {
  if (!NeedsNormalizing(value)) return Dump(value);
  json copy = value;
  std::string path;
  if (absl::Status s = Normalize(copy, &path); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("canonical JSON: ", s.message(), " at ", path.empty() ? "/" : path));
  }
  return Dump(copy);
}

absl::Status AppendJsonString(absl::string_view text, std::string* out) {
  bool plain = std::all_of(text.begin(), text.end(), [](char c) {
    return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
  });
  if (plain) {
    absl::StrAppend(out, "\"", text, "\"");
    return absl::OkStatus();
  }
  COHORT_ASSIGN_OR_RETURN(std::string quoted, CanonicalJson(json(std::string(text))));
  out->append(quoted);
  return absl::OkStatus();
}

absl::StatusOr<std::string> CanonicalJsonSha256(const json& value) {
  COHORT_ASSIGN_OR_RETURN(std::string text, CanonicalJson(value));
  return Sha256Hex(text);
}

absl::Status CheckJsonDepth(absl::string_view text, const std::string& source,
                            int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character cannot end the string
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) {
        return absl::InvalidArgumentError(absl::StrCat(
            source, ": JSON nests deeper than ", max_depth, " levels (at byte ", i, ")"));
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return absl::OkStatus();
}

json ParseJsonOrDiscarded(absl::string_view text) {
  if (!CheckJsonDepth(text, "").ok()) return json(json::value_t::discarded);
  return json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
}

absl::StatusOr<json> ParseJson(const std::string& text,
                               const std::string& source) {
  COHORT_RETURN_IF_ERROR(CheckJsonDepth(text, source));
  json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_discarded()) return parsed;
  // Parse again with exceptions only to get the position of the error.
  try {
    json unused = json::parse(text);
    (void)unused;
  } catch (const json::parse_error& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": invalid JSON at byte ", e.byte, ": ", e.what()));
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", e.what()));
  }
  return absl::InvalidArgumentError(absl::StrCat(source, ": invalid JSON"));
}

}  // namespace cohort
