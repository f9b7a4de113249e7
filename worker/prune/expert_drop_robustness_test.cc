// Damaged inputs and a full disk: a clear error naming the culprit, and no
// output left under the final name (nor a partial folder beside it).
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <string>

#include "common/atomic_file.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gtest/gtest.h"
#include "worker/prune/expert_drop.h"
#include "worker/prune/safetensors_index.h"
#include "worker/prune/upweight.h"

namespace cohort::worker::prune {
namespace {

namespace fs = std::filesystem;
using ::cohort::testing::TestDataDir;
using ::cohort::testing::StatusIs;
using ::cohort::testing::TempDir;
using ::testing::HasSubstr;

std::string CaseDir() {
  return TestDataDir() + "/goldens/prune/shared_g4tiny_s1234";
}

class RobustnessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    input_ = tmp_.Join("input");
    fs::copy(CaseDir() + "/input", input_);
    for (const auto& e : fs::directory_iterator(input_)) {
      fs::permissions(e.path(), fs::perms::owner_write, fs::perm_options::add);
    }
    options_.source_dir = input_;
    options_.drop_map = CaseDir() + "/drop_map.json";
    options_.output_dir = tmp_.Join("out");
  }

  // Only the input folder remains: no output, no partial sibling.
  void ExpectNoOutput() {
    EXPECT_FALSE(fs::exists(options_.output_dir));
    int entries = 0;
    for (const auto& e : fs::directory_iterator(tmp_.path())) {
      (void)e;
      ++entries;
    }
    EXPECT_EQ(entries, 1);
  }

  std::string Shard(int k) const {
    return input_ + "/model-0000" + std::to_string(k) + "-of-00002.safetensors";
  }

  TempDir tmp_;
  std::string input_;
  PruneOptions options_;
};

TEST_F(RobustnessTest, TruncatedShard) {
  fs::resize_file(Shard(2), fs::file_size(Shard(2)) - 10);
  EXPECT_THAT(PruneCheckpoint(options_).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("model-00002-of-00002.safetensors")));
  EXPECT_THAT(PruneCheckpoint(options_).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("truncated")));
  ExpectNoOutput();
}

TEST_F(RobustnessTest, HeaderLyingAboutOffsets) {
  std::string bytes = *ReadFileToString(Shard(1));
  size_t at = bytes.find("\"data_offsets\":[0,32768]");
  ASSERT_NE(at, std::string::npos);
  bytes.replace(at, 24, "\"data_offsets\":[0,32766]");
  ASSERT_OK(WriteFileAtomically(Shard(1), bytes));
  EXPECT_THAT(PruneCheckpoint(options_).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("model.language_model.embed_tokens.weight")));
  ExpectNoOutput();
}

TEST_F(RobustnessTest, IndexNamingMissingShard) {
  std::string index = *ReadFileToString(input_ + "/model.safetensors.index.json");
  size_t at = index.find("model-00002-of-00002.safetensors");
  index.replace(at, 32, "model-00003-of-00003.safetensors");
  ASSERT_OK(WriteFileAtomically(input_ + "/model.safetensors.index.json", index));
  EXPECT_THAT(PruneCheckpoint(options_).status(),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("model-00003-of-00003.safetensors")));
  ExpectNoOutput();
}

TEST_F(RobustnessTest, IndexNamingTensorAbsentFromShard) {
  std::string path = input_ + "/model.safetensors.index.json";
  ASSERT_OK_AND_ASSIGN(OrderedJson index, ReadOrderedJson(path));
  index["weight_map"]["model.embed_vision.embedding_projection.weight"] =
      "model-00001-of-00002.safetensors";
  ASSERT_OK(WriteFileAtomically(path, PyJsonDumps(index, 2)));
  EXPECT_THAT(PruneCheckpoint(options_).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("does not contain it")));
  ExpectNoOutput();
}

// Runs `body` in a child whose files may not grow past `limit` bytes
// (a full disk without mounting anything); returns the child's exit code.
template <typename Body>
int WithFileSizeLimit(rlim_t limit, Body body) {
  pid_t pid = fork();
  if (pid == 0) {
    signal(SIGXFSZ, SIG_IGN);
    rlimit r{limit, limit};
    setrlimit(RLIMIT_FSIZE, &r);
    _exit(body());
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

TEST_F(RobustnessTest, FullDiskDuringPrune) {
  int code = WithFileSizeLimit(300000, [&] {
    absl::Status s = PruneCheckpoint(options_).status();
    return s.code() == absl::StatusCode::kResourceExhausted ? 0 : 3;
  });
  EXPECT_EQ(code, 0);
  ExpectNoOutput();
}

TEST_F(RobustnessTest, FullDiskDuringUpweightKeepsShard) {
  std::string before = *ReadFileToString(Shard(1));
  int code = WithFileSizeLimit(600000, [&] {
    UpweightOptions o;
    o.model_dir = input_;
    o.alpha = 1.2;
    o.target = "mlp.down_proj.weight";
    // Backups (536500 bytes) fit, the rewrite of shard 1 does too; make the
    // limit bite on the first backup instead by lowering it in the child.
    rlimit r{100000, 100000};
    setrlimit(RLIMIT_FSIZE, &r);
    absl::Status s = UpweightModel(o).status();
    return s.code() == absl::StatusCode::kResourceExhausted ? 0 : 3;
  });
  EXPECT_EQ(code, 0);
  EXPECT_TRUE(*ReadFileToString(Shard(1)) == before);
  EXPECT_FALSE(fs::exists(Shard(1) + kBackupSuffix));
  EXPECT_FALSE(fs::exists(input_ + "/" + kMarkerFile));
}

// The same on a real full file system: a 400 KiB tmpfs, where the machine
// allows mounting one (root with CAP_SYS_ADMIN); skipped elsewhere, the
// RLIMIT_FSIZE case above covers the code path.
TEST_F(RobustnessTest, FullTmpfsDuringPrune) {
  std::string mnt = tmp_.Join("tmpfs");
  fs::create_directory(mnt);
  if (mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=400k") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here";
  }
  options_.output_dir = mnt + "/out";
  absl::Status status = PruneCheckpoint(options_).status();
  int entries = 0;
  for (const auto& e : fs::directory_iterator(mnt)) {
    (void)e;
    ++entries;
  }
  umount(mnt.c_str());
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kResourceExhausted,
                               HasSubstr("No space left")));
  EXPECT_EQ(entries, 0);
}

}  // namespace
}  // namespace cohort::worker::prune
