#include "worker/llama/generation_progress.h"

#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::worker::llama {
namespace {

using ::testing::HasSubstr;

TEST(GenerationProgressTest, LineSaysDoneRateAndEta) {
  GenerationSnapshot s{3, 20, 2, 812.4, 95};
  EXPECT_EQ(FormatProgressLine(s), "progress: 3/20 problems, 2 in flight, 812 tok/s, eta 1m35s");
  s.tokens_per_second = 0;
  s.eta_seconds = -1;
  EXPECT_EQ(FormatProgressLine(s), "progress: 3/20 problems, 2 in flight");
  s.eta_seconds = 2 * 3600 + 5 * 60;
  EXPECT_THAT(FormatProgressLine(s), HasSubstr("eta 2h05m"));
}

TEST(GenerationProgressTest, CountsWhatBusySlotsHaveDecoded) {
  // As llama-server's /slots: next_token is an array in recent builds.
  EXPECT_EQ(DecodedInFlight(R"([
      {"id":0,"is_processing":true,"next_token":[{"n_decoded":1200}]},
      {"id":1,"is_processing":true,"next_token":{"n_decoded":34}},
      {"id":2,"is_processing":false,"next_token":[{"n_decoded":999}]}])"),
            1234);
  EXPECT_EQ(DecodedInFlight("not json"), 0);
  EXPECT_EQ(DecodedInFlight(R"({"error":{"code":501}})"), 0);
  EXPECT_EQ(DecodedInFlight(R"([{"is_processing":true,"next_token":[{"n_decoded":"x"}]}])"), 0);
}

TEST(GenerationProgressTest, ResumedProblemsCountAsDoneButNotInTheRate) {
  std::vector<std::string> lines;
  absl::Mutex mu;
  {
    GenerationProgress progress(5, 10, 2, nullptr, absl::Milliseconds(20),
                                [&](const std::string& line) {
                                  absl::MutexLock lock(&mu);
                                  lines.push_back(line);
                                });
    GenerationSnapshot start = progress.Snapshot(0);
    EXPECT_EQ(start.done, 5u);
    EXPECT_EQ(start.eta_seconds, -1);  // nothing finished in this run yet
    progress.Finished(300);
    GenerationSnapshot after = progress.Snapshot(100);
    EXPECT_EQ(after.done, 6u);
    EXPECT_EQ(after.in_flight, 2);
    EXPECT_GT(after.tokens_per_second, 0);
    EXPECT_GE(after.eta_seconds, 0);
  }
  absl::MutexLock lock(&mu);
  ASSERT_FALSE(lines.empty());
  EXPECT_THAT(lines.back(), HasSubstr("progress: 6/10 problems"));
}

}  // namespace
}  // namespace cohort::worker::llama
