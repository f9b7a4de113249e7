#include "worker/agent/capabilities.h"

#include <sys/stat.h>

#include "common/atomic_file.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
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

TEST(CapabilitiesTest, AToolThatDoesNotStartIsSaidSo) {
  cohort::testing::TempDir dir;
  auto script = [&](const std::string& name, const std::string& body) {
    std::string path = dir.Join(name);
    EXPECT_TRUE(WriteFileAtomically(path, "#!/bin/sh\n" + body).ok());
    chmod(path.c_str(), 0755);
    return path;
  };
  // llama-quantize answers --version with its usage and exit code 1: it runs.
  EXPECT_EQ(CheckTool(script("usage", "echo usage: llama-quantize; exit 1\n")).problem, "");
  std::string broken = script(
      "llama-server",
      "echo 'llama-server: error while loading shared libraries: libggml.so: cannot open "
      "shared object file: No such file or directory' >&2; exit 127\n");
  EXPECT_THAT(CheckTool(broken).problem, ::testing::HasSubstr("libggml.so: cannot open"));
  EXPECT_THAT(CheckTool(dir.Join("absent")).problem, ::testing::HasSubstr("absent"));
  EXPECT_THAT(CheckTool(script("crash", "kill -SEGV $$\n")).problem, ::testing::Not(""));
}

TEST(CapabilitiesTest, TheMachineIsDescribedAndAFolderThatIsNotThereHasNoFreeDisk) {
  cohort::testing::TempDir dir;
  EXPECT_GT(FreeDiskBytes(dir.path()), 0u);
  EXPECT_EQ(FreeDiskBytes(dir.Join("absent")), 0u);
  EXPECT_GT(TotalMemoryBytes(), 64ull << 20);
  EXPECT_FALSE(HostName().empty());
}

}  // namespace
}  // namespace cohort::worker
