#include "common/sha256.h"

#include <fstream>

#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gtest/gtest.h"

namespace cohort {
namespace {

using ::cohort::testing::StatusIs;
using ::cohort::testing::TempDir;

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// FIPS 180-2 / NIST test vectors.
TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(Sha256Hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(
      Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256Test, MillionAsIncrementally) {
  Sha256 hasher;
  std::string chunk(1000, 'a');
  for (int i = 0; i < 1000; ++i) hasher.Update(chunk);
  EXPECT_EQ(hasher.FinishHex(),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256Test, FileMatchesBytes) {
  TempDir dir;
  std::string bytes(3 << 20, 'x');  // spans several read buffers
  bytes[12345] = 'y';
  WriteFile(dir.Join("f"), bytes);
  ASSERT_OK_AND_ASSIGN(std::string digest, Sha256File(dir.Join("f")));
  EXPECT_EQ(digest, Sha256Hex(bytes));
}

TEST(Sha256Test, MissingFileIsNotFound) {
  EXPECT_THAT(Sha256File("/nonexistent/cohort/file"),
              StatusIs(absl::StatusCode::kNotFound,
                       ::testing::HasSubstr("/nonexistent/cohort/file")));
}

TEST(Sha256Test, FolderDigestIsManifestOfSortedFiles) {
  TempDir dir;
  std::filesystem::create_directories(dir.Join("sub"));
  WriteFile(dir.Join("b.txt"), "bee");
  WriteFile(dir.Join("a.txt"), "abc");
  WriteFile(dir.Join("sub/c.bin"), "");
  ASSERT_OK_AND_ASSIGN(auto entries, BuildManifest(dir.path()));
  ASSERT_EQ(entries.size(), 3u);
  std::string expected_manifest =
      "a.txt\t3\tba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n"
      "b.txt\t3\t" + Sha256Hex("bee") + "\n"
      "sub/c.bin\t0\te3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n";
  EXPECT_EQ(ManifestText(entries), expected_manifest);
  ASSERT_OK_AND_ASSIGN(std::string digest, Sha256Folder(dir.path()));
  EXPECT_EQ(digest, Sha256Hex(expected_manifest));
}

TEST(Sha256Test, FolderDigestIndependentOfLocationAndChangesWithContent) {
  TempDir one, two;
  WriteFile(one.Join("x"), "same");
  WriteFile(two.Join("x"), "same");
  ASSERT_OK_AND_ASSIGN(std::string d1, Sha256Folder(one.path()));
  ASSERT_OK_AND_ASSIGN(std::string d2, Sha256Folder(two.path()));
  EXPECT_EQ(d1, d2);
  WriteFile(two.Join("x"), "samf");
  ASSERT_OK_AND_ASSIGN(std::string d3, Sha256Folder(two.path()));
  EXPECT_NE(d1, d3);
}

TEST(Sha256Test, FolderWithSymlinkIsRefused) {
  TempDir dir;
  WriteFile(dir.Join("x"), "data");
  std::filesystem::create_symlink("/etc/passwd", dir.Join("link"));
  EXPECT_THAT(Sha256Folder(dir.path()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       ::testing::HasSubstr("symbolic link")));
}

// RFC 4231, test case 2.
TEST(HmacSha256Test, MatchesTheRfcVector) {
  EXPECT_EQ(HmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

}  // namespace
}  // namespace cohort
