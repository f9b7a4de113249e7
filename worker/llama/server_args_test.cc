#include "worker/llama/server_args.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::worker::llama {
namespace {

using ::cohort::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;

ServerArgs CardArgs() {
  ServerArgs args;
  args.binary = "/opt/llama/llama-server";
  args.model = "model-Q6_K.gguf";
  args.ctx_size = 32768;
  args.parallel = 2;
  args.thinking = true;
  args.reasoning_budget = 12288;
  args.port = 8123;
  return args;
}

TEST(ServerArgsTest, ThinkingBenchFlagsAsTheProtocolServes) {
  EXPECT_THAT(BuildServerArgv(CardArgs()),
              ElementsAre("/opt/llama/llama-server", "-m", "model-Q6_K.gguf", "-c", "32768",
                          "--parallel", "2", "-ngl", "99", "--no-warmup", "--cache-type-k",
                          "q8_0", "--cache-type-v", "q8_0", "--jinja", "--reasoning-format",
                          "deepseek", "--reasoning-budget", "12288", "--metrics", "--seed",
                          "1234", "--host", "127.0.0.1", "--port", "8123"));
}

TEST(ServerArgsTest, ReasoningOffAndOptionalFlags) {
  ServerArgs args = CardArgs();
  args.thinking = false;
  args.metrics = false;
  args.warmup = true;
  args.cache_type_k.clear();
  args.cache_type_v.clear();
  args.extra_args = {"--alias", "m"};
  EXPECT_THAT(BuildServerArgv(args),
              ElementsAre("/opt/llama/llama-server", "-m", "model-Q6_K.gguf", "-c", "32768",
                          "--parallel", "2", "-ngl", "99", "--jinja", "--reasoning", "off",
                          "--seed", "1234", "--host", "127.0.0.1", "--port", "8123", "--alias",
                          "m"));
}

TEST(ServerArgsTest, EnvPinsTheGpu) {
  EXPECT_THAT(BuildServerEnv(3), ElementsAre(Pair("CUDA_VISIBLE_DEVICES", "3")));
  EXPECT_THAT(BuildServerEnv(-1), IsEmpty());
}

TEST(ServerArgsTest, Validation) {
  EXPECT_OK(ValidateServerArgs(CardArgs()));
  ServerArgs args = CardArgs();
  args.model.clear();
  EXPECT_THAT(ValidateServerArgs(args), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("model")));
  args = CardArgs();
  args.ctx_size = 1;
  EXPECT_THAT(ValidateServerArgs(args), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("-c 1")));
  args = CardArgs();
  args.port = 0;
  EXPECT_THAT(ValidateServerArgs(args), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("port")));
  args = CardArgs();
  args.reasoning_budget = -1;
  EXPECT_THAT(ValidateServerArgs(args), StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
}

TEST(ServerArgsTest, PickFreePortGivesALoopbackPort) {
  ASSERT_OK_AND_ASSIGN(int port, PickFreePort());
  EXPECT_GT(port, 0);
  EXPECT_LT(port, 65536);
}

}  // namespace
}  // namespace cohort::worker::llama
