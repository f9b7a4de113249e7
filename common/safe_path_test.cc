#include "common/safe_path.h"

#include <string>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort {
namespace {

using ::cohort::testing::StatusIs;
using ::testing::HasSubstr;

TEST(SafePathTest, AcceptsPathsThatStayInside) {
  for (const char* ok : {"a", "model.gguf", "shards/model-00001.safetensors", "a..b",
                         "..hidden", "x/y/z.json", ".config"}) {
    EXPECT_OK(CheckRelativePath(ok, "path")) << ok;
  }
  EXPECT_OK(CheckPlainName("drop_map", "output"));
  EXPECT_OK(CheckAbsolutePath("/srv/models/base", "shared_path"));
  EXPECT_OK(CheckAbsolutePath("/srv/models/base/", "shared_path"));
}

TEST(SafePathTest, RefusesTraversalNamingTheProblem) {
  struct Case {
    std::string path;
    const char* why;
  };
  const Case cases[] = {
      {"../x", "'..' component"},
      {"a/../../b", "'..' component"},
      {"a/..", "'..' component"},
      {"/etc/passwd", "absolute"},
      {"", "empty"},
      {std::string("a\0b", 3), "NUL"},
      {"a//b", "empty component"},
      {"a/", "empty component"},
      {"./a", "'.' component"},
      {"a\nb", "control character"},
      {std::string(300, 'n'), "longer than 255"},
      {std::string(5000, 'n'), "longer than 4096"},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(CheckRelativePath(c.path, "relative_path"),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         ::testing::AllOf(HasSubstr("relative_path '"), HasSubstr(c.why))))
        << c.path;
  }
}

TEST(SafePathTest, NulIsShownEscapedNotCutOff) {
  absl::Status s = CheckPlainName(std::string("ok\0/../../etc", 13), "output name");
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ok\\x00")));
}

TEST(SafePathTest, PlainNameHasNoSlash) {
  EXPECT_THAT(CheckPlainName("a/b", "input name"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("contains '/'")));
  EXPECT_THAT(CheckPlainName("..", "input name"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'..'")));
}

TEST(SafePathTest, AbsolutePathMustBeNormal) {
  EXPECT_THAT(CheckAbsolutePath("relative/x", "shared_path"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not absolute")));
  EXPECT_THAT(CheckAbsolutePath("/srv/../etc/passwd", "shared_path"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'..'")));
  EXPECT_THAT(CheckAbsolutePath("/srv//x", "shared_path"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty component")));
  EXPECT_THAT(CheckAbsolutePath("/", "shared_path"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("root")));
  EXPECT_THAT(CheckAbsolutePath(std::string("/srv/a\0", 7), "shared_path"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("NUL")));
}

}  // namespace
}  // namespace cohort
