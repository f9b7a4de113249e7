#include "worker/artifacts/artifact_store.h"

#include <filesystem>
#include <fstream>

#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gtest/gtest.h"

namespace cohort::worker {
namespace {

using ::cohort::testing::StatusIs;
using ::cohort::testing::TempDir;
namespace fs = std::filesystem;

std::string MakeFolder(const std::string& path, const std::string& content,
                       size_t size = 0) {
  fs::create_directories(path);
  std::ofstream(path + "/data.bin") << content << std::string(size, 'x');
  return path;
}

TEST(ArtifactStoreTest, AdoptIsContentAddressedAndDeduplicates) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto store, ArtifactStore::Open(dir.Join("store"), 0));
  ASSERT_OK_AND_ASSIGN(std::string expected, DigestOfPath(MakeFolder(dir.Join("a"), "one")));
  ASSERT_OK_AND_ASSIGN(StoredArtifact a, store->Adopt(dir.Join("a")));
  EXPECT_EQ(a.digest, expected);
  EXPECT_FALSE(fs::exists(dir.Join("a")));
  EXPECT_TRUE(fs::exists(a.path + "/data.bin"));
  MakeFolder(dir.Join("b"), "one");
  ASSERT_OK_AND_ASSIGN(StoredArtifact b, store->Adopt(dir.Join("b")));
  EXPECT_EQ(b.path, a.path);
  EXPECT_FALSE(fs::exists(dir.Join("b")));
  EXPECT_EQ(store->Digests().size(), 1u);
}

TEST(ArtifactStoreTest, ReopenFindsStoredArtifacts) {
  TempDir dir;
  std::string digest;
  {
    ASSERT_OK_AND_ASSIGN(auto store, ArtifactStore::Open(dir.Join("store"), 0));
    ASSERT_OK_AND_ASSIGN(StoredArtifact a, store->Adopt(MakeFolder(dir.Join("a"), "x")));
    digest = a.digest;
  }
  ASSERT_OK_AND_ASSIGN(auto store, ArtifactStore::Open(dir.Join("store"), 0));
  EXPECT_TRUE(store->Find(digest).has_value());
  EXPECT_FALSE(store->Find("sha256:" + std::string(64, '0')).has_value());
}

TEST(ArtifactStoreTest, IncomingIsVerifiedBeforeUse) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto store, ArtifactStore::Open(dir.Join("store"), 0));
  ASSERT_OK_AND_ASSIGN(std::string digest, DigestOfPath(MakeFolder(dir.Join("src"), "payload")));
  ASSERT_OK_AND_ASSIGN(std::string incoming, store->IncomingDir(digest));
  std::ofstream(incoming + "/data.bin") << "payloaX";  // corrupted in transit
  EXPECT_THAT(store->CommitIncoming(digest),
              StatusIs(absl::StatusCode::kDataLoss, ::testing::HasSubstr("expected")));
  EXPECT_FALSE(store->Find(digest).has_value());
  ASSERT_OK_AND_ASSIGN(incoming, store->IncomingDir(digest));
  std::ofstream(incoming + "/data.bin") << "payload";
  ASSERT_OK_AND_ASSIGN(StoredArtifact ok, store->CommitIncoming(digest));
  EXPECT_EQ(ok.digest, digest);
  EXPECT_THAT(store->IncomingDir("../../etc"),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
}

TEST(ArtifactStoreTest, GarbageCollectionKeepsPinnedAndRecent) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto store, ArtifactStore::Open(dir.Join("store"), 2500));
  ASSERT_OK_AND_ASSIGN(auto a, store->Adopt(MakeFolder(dir.Join("a"), "a", 1000)));
  ASSERT_OK_AND_ASSIGN(auto b, store->Adopt(MakeFolder(dir.Join("b"), "b", 1000)));
  ASSERT_OK_AND_ASSIGN(auto c, store->Adopt(MakeFolder(dir.Join("c"), "c", 1000)));
  store->Pin(a.digest);  // oldest, but in use
  std::vector<std::string> removed = store->CollectGarbage();
  EXPECT_EQ(removed, std::vector<std::string>{b.digest});
  EXPECT_TRUE(store->Find(a.digest).has_value());
  EXPECT_TRUE(store->Find(c.digest).has_value());
  EXPECT_LE(store->TotalBytes(), 2500u);
}

TEST(ArtifactStoreTest, DigestOfFileAndFolderDiffer) {
  TempDir dir;
  std::ofstream(dir.Join("f")) << "abc";
  ASSERT_OK_AND_ASSIGN(std::string file, DigestOfPath(dir.Join("f")));
  EXPECT_EQ(file, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_TRUE(IsDigest(file));
  EXPECT_FALSE(IsDigest("sha256:xyz"));
}

}  // namespace
}  // namespace cohort::worker
