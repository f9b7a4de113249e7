// libFuzzer target: JSON from outside (request params, harness verdicts,
// server replies, dataset rows) through ParseJson / ParseJsonOrDiscarded and
// the canonical form that step keys hash. Nothing may crash, recurse without
// bound, or throw.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/canonical_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<nlohmann::json> parsed = cohort::ParseJson(text, "fuzz.json");
  if (parsed.ok()) {
    cohort::CanonicalJson(*parsed).IgnoreError();
    nlohmann::json copy = *parsed;
    (void)copy.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  nlohmann::json loose = cohort::ParseJsonOrDiscarded(text);
  if (!loose.is_discarded() && loose.is_object() && loose.contains("status")) {
    (void)loose.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  return 0;
}
