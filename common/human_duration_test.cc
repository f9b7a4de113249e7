#include "common/human_duration.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort {
namespace {

TEST(HumanDurationTest, ParsesEachUnitAndSums) {
  EXPECT_EQ(ParseHumanDuration("90s").value(), absl::Seconds(90));
  EXPECT_EQ(ParseHumanDuration("15m").value(), absl::Minutes(15));
  EXPECT_EQ(ParseHumanDuration("12h").value(), absl::Hours(12));
  EXPECT_EQ(ParseHumanDuration("30d").value(), absl::Hours(30 * 24));
  EXPECT_EQ(ParseHumanDuration("2w").value(), absl::Hours(14 * 24));
  EXPECT_EQ(ParseHumanDuration("1d12h30m").value(),
            absl::Hours(36) + absl::Minutes(30));
}

TEST(HumanDurationTest, RefusesWhatIsNotADuration) {
  for (const char* text : {"", "12", "h", "1.5h", "-3d", "0s", "0d0h", "5y", "3 d", "12hx",
                           "99999999999999999999d"}) {
    absl::StatusOr<absl::Duration> parsed = ParseHumanDuration(text);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(std::string(parsed.status().message()),
                ::testing::HasSubstr(std::string("'") + text + "'"));
  }
}

}  // namespace
}  // namespace cohort
