#include "worker/artifacts/shared_inputs.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gtest/gtest.h"

namespace cohort::worker {
namespace {

using ::cohort::testing::TempDir;

void Write(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

std::string DigestOf(const std::string& text) { return absl::StrCat("sha256:", Sha256Hex(text)); }

TEST(SharedInputVerifierTest, AcceptsTheRegisteredBytesUnderARootAndHashesThemOnce) {
  TempDir dir;
  Write(dir.Join("shared/data.jsonl"), "row\n");
  SharedInputVerifier verifier({dir.Join("shared")});
  EXPECT_OK(verifier.Verify(dir.Join("shared/data.jsonl"), DigestOf("row\n"), 4));
  EXPECT_OK(verifier.Verify(dir.Join("shared/data.jsonl"), DigestOf("row\n"), 4));
  EXPECT_EQ(verifier.hashes(), 1);
}

// The poisoning probe: the real digest registered at a doctored copy.
TEST(SharedInputVerifierTest, RefusesContentWithAnotherDigest) {
  TempDir dir;
  Write(dir.Join("shared/copy.jsonl"), "doctored\n");
  SharedInputVerifier verifier({dir.Join("shared")});
  absl::Status s = verifier.Verify(dir.Join("shared/copy.jsonl"), DigestOf("original\n"), 0);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(s.message(), ::testing::HasSubstr("copy.jsonl has digest " + DigestOf("doctored\n")));
}

TEST(SharedInputVerifierTest, ARewrittenFileIsHashedAgain) {
  TempDir dir;
  Write(dir.Join("shared/data"), "one");
  SharedInputVerifier verifier({dir.Join("shared")});
  EXPECT_OK(verifier.Verify(dir.Join("shared/data"), DigestOf("one"), 3));
  Write(dir.Join("shared/data.new"), "two");
  std::filesystem::rename(dir.Join("shared/data.new"), dir.Join("shared/data"));
  EXPECT_EQ(verifier.Verify(dir.Join("shared/data"), DigestOf("one"), 3).code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(verifier.hashes(), 2);
}

// The confidentiality probe: a file of the worker's machine outside the
// roots, directly or through a link inside them.
TEST(SharedInputVerifierTest, RefusesPathsOutsideTheRootsAndLinksOutOfThem) {
  TempDir dir;
  Write(dir.Join("private/secret"), "key");
  std::filesystem::create_directories(dir.Join("shared"));
  std::filesystem::create_symlink(dir.Join("private/secret"), dir.Join("shared/link"));
  SharedInputVerifier verifier({dir.Join("shared")});
  for (const std::string& path : {dir.Join("private/secret"), dir.Join("shared/link"),
                                  dir.Join("shared/../private/secret")}) {
    absl::Status s = verifier.Verify(path, DigestOf("key"), 3);
    EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << path << " " << s;
    EXPECT_THAT(s.message(), ::testing::HasSubstr("outside this worker's --shared-root"));
  }
  EXPECT_EQ(verifier.hashes(), 0);
}

TEST(SharedInputVerifierTest, NoRootsMeansNoSharedPaths) {
  TempDir dir;
  Write(dir.Join("data"), "x");
  SharedInputVerifier verifier({});
  absl::Status s = verifier.Verify(dir.Join("data"), DigestOf("x"), 1);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), ::testing::HasSubstr("--shared-root"));
}

// /dev/zero would be read without end; the size check comes before any read.
TEST(SharedInputVerifierTest, RefusesDevicesFifosAndWrongSizesWithoutReading) {
  TempDir dir;
  ASSERT_EQ(mkfifo(dir.Join("fifo").c_str(), 0600), 0);
  Write(dir.Join("big"), std::string(100, 'x'));
  SharedInputVerifier verifier({"/"});
  absl::Status zero = verifier.Verify("/dev/zero", DigestOf(""), 10);
  EXPECT_EQ(zero.code(), absl::StatusCode::kFailedPrecondition) << zero;
  EXPECT_THAT(zero.message(), ::testing::HasSubstr("character device"));
  EXPECT_EQ(verifier.Verify(dir.Join("fifo"), DigestOf(""), 0).code(),
            absl::StatusCode::kFailedPrecondition);
  absl::Status size = verifier.Verify(dir.Join("big"), DigestOf(std::string(100, 'x')), 10);
  EXPECT_EQ(size.code(), absl::StatusCode::kFailedPrecondition) << size;
  EXPECT_THAT(size.message(), ::testing::HasSubstr("holds 100 bytes"));
  EXPECT_EQ(verifier.hashes(), 0);
}

TEST(SharedInputVerifierTest, FoldersAreVerifiedByTheirManifestAndRefuseLinksInside) {
  TempDir dir;
  Write(dir.Join("shared/model/config.json"), "{}");
  Write(dir.Join("shared/model/sub/weights"), "wwww");
  absl::StatusOr<std::string> hex = Sha256Folder(dir.Join("shared/model"));
  ASSERT_OK(hex.status());
  std::string digest = absl::StrCat("sha256:", *hex);
  SharedInputVerifier verifier({dir.Join("shared")});
  EXPECT_OK(verifier.Verify(dir.Join("shared/model"), digest, 6));
  EXPECT_OK(verifier.Verify(dir.Join("shared/model"), digest, 6));
  EXPECT_EQ(verifier.hashes(), 1);
  Write(dir.Join("elsewhere"), "x");
  std::filesystem::create_symlink(dir.Join("elsewhere"), dir.Join("shared/model/link"));
  absl::Status s = verifier.Verify(dir.Join("shared/model"), digest, 0);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(), ::testing::HasSubstr("symbolic link"));
}

}  // namespace
}  // namespace cohort::worker
