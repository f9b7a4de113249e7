#include "common/logging.h"

#include <fstream>

#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace cohort {
namespace {

using ::cohort::testing::StatusIs;

TEST(LoggingTest, JsonLinesAreValidJsonPerLine) {
  cohort::testing::TempDir dir;
  LogOptions options;
  options.program = "cohortd";
  options.format = LogFormat::kJson;
  options.file = dir.Join("log.jsonl");
  ASSERT_OK(InitLogging(options));
  spdlog::info("lease {} granted to \"worker\"\nsecond line", 7);
  spdlog::debug("hidden at info level");
  spdlog::default_logger()->flush();
  std::ifstream in(options.file);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    ++lines;
    nlohmann::json parsed = nlohmann::json::parse(line);
    EXPECT_EQ(parsed["level"], "info");
    EXPECT_EQ(parsed["logger"], "cohortd");
    EXPECT_EQ(parsed["msg"], "lease 7 granted to \"worker\"\nsecond line");
    EXPECT_EQ(parsed["ts"].get<std::string>().back(), 'Z');
  }
  EXPECT_EQ(lines, 1);
  ASSERT_OK(InitLogging(LogOptions{}));  // back to stderr for other tests
}

TEST(LoggingTest, BadLevelAndFormatRefused) {
  LogOptions options;
  options.level = "loud";
  EXPECT_THAT(InitLogging(options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::HasSubstr("loud")));
  LogFormat format;
  EXPECT_THAT(ParseLogFormat("xml", &format),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::HasSubstr("xml")));
  ASSERT_OK(ParseLogFormat("json", &format));
  EXPECT_EQ(format, LogFormat::kJson);
}

}  // namespace
}  // namespace cohort
