#include "worker/agent/capabilities.h"

#include "gtest/gtest.h"

namespace cohort::worker {
namespace {

TEST(CapabilitiesTest, ParsesNvidiaSmiCsv) {
  std::vector<GpuDescription> gpus = ParseNvidiaSmi(
      "0, NVIDIA H100 80GB HBM3, 81559\n1, NVIDIA H100 80GB HBM3, 81559\n"
      "garbage line\n2, broken, notanumber\n");
  ASSERT_EQ(gpus.size(), 2u);
  EXPECT_EQ(gpus[1].index, 1u);
  EXPECT_EQ(gpus[0].model, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(gpus[0].memory_bytes, 81559ull << 20);
  EXPECT_TRUE(ParseNvidiaSmi("").empty());
}

TEST(CapabilitiesTest, ToolVersionsIncludeToolchainsAndGivenTools) {
  auto versions = DetectToolVersions({{"sh", "/bin/sh"}});
  EXPECT_TRUE(versions.count("sh"));  // may be "" (no version line)
  if (versions.count("python3")) {
    EXPECT_NE(versions["python3"].find("Python"), std::string::npos);
  }
}

}  // namespace
}  // namespace cohort::worker
