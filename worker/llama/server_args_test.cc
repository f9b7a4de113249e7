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
  EXPECT_THAT(ValidateServerArgs(args), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("context of 1 is smaller")));
  args = CardArgs();
  args.port = 0;
  EXPECT_THAT(ValidateServerArgs(args), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("port")));
  args = CardArgs();
  args.reasoning_budget = -1;
  EXPECT_THAT(ValidateServerArgs(args), StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
}

// vLLM's command line: the context per request, the sequences in flight,
// the protocol's seed, and the checkpoint's generation_config.json kept out
// of the sampling.
TEST(ServerArgsTest, VllmServesTheCheckpointFolderWithAContextPerRequest) {
  ServerArgs args = CardArgs();
  args.backend = ServerBackend::kVllm;
  args.binary = "/opt/vllm/bin/vllm";
  args.model = "/ckpt/gemma-nvfp4";
  args.ctx_size = 2 * 16384;
  args.parallel = 2;
  args.extra_args = {"--dtype", "bfloat16"};
  EXPECT_THAT(BuildServerArgv(args),
              ElementsAre("/opt/vllm/bin/vllm", "serve", "/ckpt/gemma-nvfp4", "--host",
                          "127.0.0.1", "--port", "8123", "--served-model-name", "cohort",
                          "--max-model-len", "16384", "--max-num-seqs", "2", "--seed", "1234",
                          "--generation-config", "vllm", "--dtype", "bfloat16"));
  args.reasoning_parser = "qwen3";
  args.extra_args.clear();
  std::vector<std::string> argv = BuildServerArgv(args);
  EXPECT_THAT(std::vector<std::string>(argv.end() - 2, argv.end()),
              ElementsAre("--reasoning-parser", "qwen3"));
  // No reasoning budget to ask for: a thinking bench is still valid.
  args.reasoning_budget = -1;
  EXPECT_OK(ValidateServerArgs(args));
  EXPECT_EQ(BackendName(ServerBackend::kVllm), std::string("vllm"));
  ASSERT_OK_AND_ASSIGN(ServerBackend parsed, ParseBackend("vllm"));
  EXPECT_EQ(parsed, ServerBackend::kVllm);
  EXPECT_THAT(ParseBackend("sglang").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("llama-server or vllm")));
}

TEST(ServerArgsTest, PickFreePortGivesALoopbackPort) {
  ASSERT_OK_AND_ASSIGN(int port, PickFreePort());
  EXPECT_GT(port, 0);
  EXPECT_LT(port, 65536);
}

}  // namespace
}  // namespace cohort::worker::llama
