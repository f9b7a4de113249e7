#include "common/human_duration.h"

#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace cohort {
namespace {

// The length of one unit letter, or zero for an unknown letter.
absl::Duration Unit(char letter) {
  switch (letter) {
    case 's': return absl::Seconds(1);
    case 'm': return absl::Minutes(1);
    case 'h': return absl::Hours(1);
    case 'd': return absl::Hours(24);
    case 'w': return absl::Hours(24 * 7);
    default: return absl::ZeroDuration();
  }
}

}  // namespace

absl::StatusOr<absl::Duration> ParseHumanDuration(absl::string_view text) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "duration '", text, "': ", why, " (expected e.g. 90s, 15m, 12h, 30d, 2w, 1d12h)"));
  };
  if (text.empty()) return bad("empty");
  absl::Duration total;
  size_t i = 0;
  while (i < text.size()) {
    // Ten digits at most per part: no overflow of int64, and 9999999999w is
    // already far past any sensible lifetime.
    int64_t count = 0;
    size_t digits = 0;
    while (i < text.size() && absl::ascii_isdigit(text[i]) && digits < 10) {
      count = count * 10 + (text[i] - '0');
      ++i;
      ++digits;
    }
    if (digits == 0) return bad("each part must start with a whole number");
    if (i == text.size()) return bad("a number needs a unit (s, m, h, d or w)");
    if (text[i] == '.' || text[i] == ',') return bad("whole numbers only");
    absl::Duration unit = Unit(text[i]);
    if (unit == absl::ZeroDuration()) {
      return bad(absl::StrCat("unknown unit '", text.substr(i, 1), "'"));
    }
    ++i;
    total += count * unit;
  }
  if (total <= absl::ZeroDuration()) return bad("must be longer than zero");
  return total;
}

}  // namespace cohort
