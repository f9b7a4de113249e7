#include "worker/sandbox/toolchains.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace cohort::worker::sandbox {
namespace {

TEST(ToolchainsTest, ReportsPinnedPathsAndVersions) {
  const std::vector<Toolchain>& all = DetectToolchains();
  ASSERT_EQ(all.size(), 5u);
  for (const Toolchain& t : all) {
    EXPECT_EQ(t.path[0], '/') << t.name;
    if (t.present) {
      EXPECT_FALSE(t.version.empty()) << t.name;
    } else {
      std::printf("[  NOTE    ] toolchain %s (%s) is absent\n", t.name.c_str(), t.path.c_str());
    }
  }
  Toolchain python = FindToolchain("python3");
  EXPECT_EQ(python.path, "/usr/bin/python3");
  if (python.present) {
    EXPECT_TRUE(absl::StartsWith(python.version, "Python 3")) << python.version;
  }
  EXPECT_FALSE(FindToolchain("cobol").present);
  EXPECT_EQ(ToolchainPin(python)["path"], "/usr/bin/python3");
}

}  // namespace
}  // namespace cohort::worker::sandbox
