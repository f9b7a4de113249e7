#include "common/vllm_options.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort {
namespace {

using ::cohort::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using json = nlohmann::json;

TEST(VllmSettingsTest, TypedSettingsBecomeOneTokenEach) {
  json vllm = {{"parallel", 8},
               {"max_model_len", 20480},
               {"reasoning_parser", "qwen3"},
               {"dtype", "bfloat16"},
               {"quantization", "modelopt_fp4"},
               {"kv_cache_dtype", "fp8_e4m3"},
               {"gpu_memory_utilization", 0.85},
               {"enforce_eager", true},
               {"tensor_parallel_size", 2}};
  EXPECT_OK(CheckVllmSettings(vllm));
  EXPECT_THAT(VllmEngineFlags(vllm),
              ElementsAre("--dtype=bfloat16", "--quantization=modelopt_fp4",
                          "--kv-cache-dtype=fp8_e4m3", "--gpu-memory-utilization=0.85",
                          "--enforce-eager", "--tensor-parallel-size=2"));
  EXPECT_EQ(VllmGpus(vllm), 2);
  EXPECT_EQ(VllmGpus(json{{"parallel", 2}}), 1);
  vllm["enforce_eager"] = false;
  EXPECT_THAT(VllmEngineFlags(json{{"parallel", 2}, {"enforce_eager", false}}), ElementsAre());
}

// Nothing but the listed settings, each in its range, reaches vLLM: no
// other flag, no value that is a flag or a path.
TEST(VllmSettingsTest, AnythingElseIsRefusedByName) {
  EXPECT_THAT(CheckVllmSettings(json{{"parallel", 2}, {"trust_remote_code", true}}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("vllm.trust_remote_code: not a setting")));
  EXPECT_THAT(CheckVllmSettings(json{{"parallel", 2}, {"dtype", "--trust-remote-code"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("vllm.dtype")));
  EXPECT_THAT(CheckVllmSettings(json{{"parallel", 2}, {"quantization", "../../etc"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("vllm.quantization")));
  EXPECT_THAT(CheckVllmSettings(json{{"parallel", 0}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("vllm.parallel")));
  EXPECT_THAT(CheckVllmSettings(json{{"parallel", 2}, {"gpu_memory_utilization", 1.5}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("above 0, at most 1")));
  EXPECT_THAT(CheckVllmSettings(json{{"parallel", 2}, {"max_model_len", "long"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("vllm.max_model_len")));
  EXPECT_THAT(CheckVllmSettings(json{{"parallel", 2}, {"tensor_parallel_size", 0}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("vllm.tensor_parallel_size")));
  EXPECT_THAT(CheckVllmSettings(json{{"parallel", 2}, {"enforce_eager", "yes"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("true or false")));
  EXPECT_THAT(CheckVllmSettings(json{{"dtype", "bfloat16"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("vllm.parallel")));
  EXPECT_THAT(CheckVllmSettings(json::array()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("an object")));
}

}  // namespace
}  // namespace cohort
