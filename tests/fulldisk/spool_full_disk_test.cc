// The worker's spool (worker/agent/spool.h) on a full file system: a small
// tmpfs, where the machine allows mounting one (root with CAP_SYS_ADMIN;
// skipped elsewhere). Appending fails cleanly once the disk is full, with
// nothing already spooled lost or damaged, and succeeds again once space
// frees; a reopened spool (a restarted worker) holds every entry that was
// acknowledged as appended.
#include <sys/mount.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/agent/spool.h"

namespace cohort::worker {
namespace {

namespace fs = std::filesystem;

class SpoolFullDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mnt_ = tmp_.Join("tmpfs");
    fs::create_directory(mnt_);
    if (mount("tmpfs", mnt_.c_str(), "tmpfs", 0, "size=512k") != 0) {
      GTEST_SKIP() << "cannot mount a tmpfs here";
    }
    mounted_ = true;
  }
  void TearDown() override {
    if (mounted_) umount2(mnt_.c_str(), MNT_DETACH);
  }

  static std::string Payload(int i) {
    return absl::StrCat("results-", i, "-", std::string(3000, static_cast<char>('a' + i % 26)));
  }

  cohort::testing::TempDir tmp_;
  std::string mnt_;
  bool mounted_ = false;
};

TEST_F(SpoolFullDiskTest, FullDiskFailsCleanlyAndRetrySucceedsOnceSpaceFrees) {
  // Filler that is deleted later to free space.
  {
    std::ofstream filler(mnt_ + "/filler", std::ios::binary);
    filler << std::string(160 * 1024, 'x');
  }
  std::vector<std::string> appended;
  absl::Status full;
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Spool> spool, Spool::Open(mnt_ + "/spool.db"));
    for (int i = 0; i < 1000; ++i) {  // bounded: 1000 x 3 KB is far past 512 KiB
      absl::StatusOr<int64_t> id = spool->Append(SpoolKind::kResults, "lease-1", 1, Payload(i));
      if (!id.ok()) {
        full = id.status();
        break;
      }
      appended.push_back(Payload(i));
    }
    ASSERT_FALSE(full.ok()) << "the tmpfs never filled up";
    RecordProperty("full_after", static_cast<int>(appended.size()));
    RecordProperty("error", std::string(full.message()));
    EXPECT_GT(appended.size(), 10u);
    // A clear error, not a crash: SQLite's "database or disk is full".
    EXPECT_THAT(std::string(full.message()),
                ::testing::AnyOf(::testing::HasSubstr("full"), ::testing::HasSubstr("space")))
        << full;
    // What was appended before is intact and still readable.
    ASSERT_OK_AND_ASSIGN(int64_t count, spool->Count());
    EXPECT_EQ(count, static_cast<int64_t>(appended.size()));
    // Space frees: the same append now succeeds.
    fs::remove(mnt_ + "/filler");
    ASSERT_OK(spool->Append(SpoolKind::kComplete, "lease-1", 1, "complete").status());
    appended.push_back("complete");
  }
  // A restarted worker finds every acknowledged entry, in order, unchanged.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Spool> reopened, Spool::Open(mnt_ + "/spool.db"));
  ASSERT_OK_AND_ASSIGN(std::vector<SpoolEntry> pending, reopened->Pending(100000));
  ASSERT_EQ(pending.size(), appended.size());
  for (std::size_t i = 0; i < pending.size(); ++i) {
    EXPECT_EQ(pending[i].payload, appended[i]) << "entry " << i;
  }
  EXPECT_EQ(pending.back().kind, SpoolKind::kComplete);
}

TEST_F(SpoolFullDiskTest, OpeningOnAFullDiskFailsCleanly) {
  {
    std::ofstream filler(mnt_ + "/filler", std::ios::binary);
    filler << std::string(600 * 1024, 'x');  // more than fits: the tmpfs is full
  }
  absl::StatusOr<std::unique_ptr<Spool>> spool = Spool::Open(mnt_ + "/spool.db");
  if (spool.ok()) {
    // SQLite may create an empty file; the first append must then fail.
    EXPECT_FALSE((*spool)->Append(SpoolKind::kResults, "l", 1, Payload(0)).ok());
  }
  fs::remove(mnt_ + "/filler");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Spool> again, Spool::Open(mnt_ + "/spool.db"));
  ASSERT_OK(again->Append(SpoolKind::kResults, "l", 1, Payload(1)).status());
  ASSERT_OK_AND_ASSIGN(int64_t count, again->Count());
  EXPECT_EQ(count, 1);
}

}  // namespace
}  // namespace cohort::worker
