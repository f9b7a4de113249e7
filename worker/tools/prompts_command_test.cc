// `cohort-worker prompts` as a user runs it: the requests a bench run sends,
// with lm-eval's prompt_hash (the GSM8K hash is lm-eval 0.4.11's own for
// doc 0: worker/eval/lm_eval_prompts_test.cc), and exit 2 naming what is wrong.
#include <string>

#include "common/subprocess.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace cohort::worker {
namespace {

using ::testing::HasSubstr;

SubprocessResult Prompts(std::vector<std::string> args) {
  SubprocessOptions options;
  options.argv = {std::string(COHORT_BIN_DIR) + "/cohort-worker", "prompts"};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  absl::StatusOr<SubprocessResult> r = RunSubprocess(options);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.value_or(SubprocessResult{});
}

TEST(PromptsCommandTest, PrintsEachRequestOfTheProfilesSubset) {
  SubprocessResult r =
      Prompts({"--bench", "gsm8k", "--dataset", cohort::testing::DatasetsDir() + "/gsm8k/test.jsonl"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t nl; (nl = r.stdout_data.find('\n', start)) != std::string::npos; start = nl + 1) {
    lines.push_back(r.stdout_data.substr(start, nl - start));
  }
  ASSERT_EQ(lines.size(), 100u);  // the card profile's first 100
  nlohmann::json first = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(first["index"], 0);
  EXPECT_EQ(first["messages"].size(), 11u);  // five exemplar turn pairs, then the question
  EXPECT_EQ(first["messages"][1]["role"], "assistant");
  EXPECT_EQ(first["prompt_hash"], "b6b6f0f1301c9090bf258fdcb8d636f8c01a4b28b1660fe2d6e453979ae8f89c");
}

TEST(PromptsCommandTest, BadInputIsExitTwoNamingIt) {
  SubprocessResult bench = Prompts({"--bench", "nosuch", "--dataset", "x.jsonl"});
  EXPECT_EQ(bench.exit_code, 2);
  EXPECT_THAT(bench.stderr_data, HasSubstr("unknown bench 'nosuch'"));
  SubprocessResult file = Prompts({"--bench", "gsm8k", "--dataset", "/nonexistent/test.jsonl"});
  EXPECT_EQ(file.exit_code, 2);
  EXPECT_THAT(file.stderr_data, HasSubstr("/nonexistent/test.jsonl"));
}

}  // namespace
}  // namespace cohort::worker
