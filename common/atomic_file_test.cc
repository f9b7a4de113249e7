#include "common/atomic_file.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gtest/gtest.h"

namespace cohort {
namespace {

using ::cohort::testing::StatusIs;
using ::cohort::testing::TempDir;
namespace fs = std::filesystem;

int CountEntries(const std::string& dir) {
  int n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

TEST(AtomicFileTest, WritesAndReplaces) {
  TempDir dir;
  std::string path = dir.Join("out.json");
  ASSERT_OK(WriteFileAtomically(path, "first"));
  ASSERT_OK(WriteFileAtomically(path, "second"));
  ASSERT_OK_AND_ASSIGN(std::string content, ReadFileToString(path));
  EXPECT_EQ(content, "second");
  EXPECT_EQ(CountEntries(dir.path()), 1);  // no temporaries left behind
}

TEST(AtomicFileTest, UncommittedWriterLeavesNothing) {
  TempDir dir;
  std::string path = dir.Join("out.bin");
  {
    AtomicFileWriter writer;
    ASSERT_OK(writer.Open(path));
    ASSERT_OK(writer.Append("partial"));
  }
  EXPECT_FALSE(fs::exists(path));
  EXPECT_EQ(CountEntries(dir.path()), 0);
}

// A writer killed with SIGKILL half-way must leave the old content under the
// final name, never a prefix of the new one.
TEST(AtomicFileTest, WriterKilledMidWriteLeavesOldContent) {
  TempDir dir;
  std::string path = dir.Join("state.json");
  ASSERT_OK(WriteFileAtomically(path, "old content"));
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    AtomicFileWriter writer;
    if (!writer.Open(path).ok()) _exit(1);
    std::string chunk(1 << 20, 'n');
    for (int i = 0; i < 4; ++i) {
      if (!writer.Append(chunk).ok()) _exit(1);
    }
    raise(SIGKILL);  // dies before Commit
    _exit(2);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  ASSERT_OK_AND_ASSIGN(std::string content, ReadFileToString(path));
  EXPECT_EQ(content, "old content");
}

TEST(AtomicFileTest, WriterKilledBeforeFirstCommitLeavesNoFinalName) {
  TempDir dir;
  std::string path = dir.Join("new.bin");
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    AtomicFileWriter writer;
    if (!writer.Open(path).ok()) _exit(1);
    if (!writer.Append(std::string(100000, 'x')).ok()) _exit(1);
    raise(SIGKILL);
    _exit(2);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_FALSE(fs::exists(path));
}

// A full disk (simulated with RLIMIT_FSIZE in a child) is a clean
// kResourceExhausted and leaves neither the final name nor a temporary.
TEST(AtomicFileTest, FullDiskIsCleanError) {
  TempDir dir;
  std::string path = dir.Join("big.bin");
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    signal(SIGXFSZ, SIG_IGN);
    rlimit limit{4096, 4096};
    setrlimit(RLIMIT_FSIZE, &limit);
    absl::Status s = WriteFileAtomically(path, std::string(100000, 'x'));
    _exit(s.code() == absl::StatusCode::kResourceExhausted ? 0 : 3);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_FALSE(fs::exists(path));
  EXPECT_EQ(CountEntries(dir.path()), 0);
}

TEST(AtomicFileTest, WriteAtFillsHeaderLater) {
  TempDir dir;
  std::string path = dir.Join("h.bin");
  AtomicFileWriter writer;
  ASSERT_OK(writer.Open(path));
  ASSERT_OK(writer.Append("XXXXbody"));
  ASSERT_OK(writer.WriteAt(0, "HEAD", 4));
  ASSERT_OK(writer.Commit());
  ASSERT_OK_AND_ASSIGN(std::string content, ReadFileToString(path));
  EXPECT_EQ(content, "HEADbody");
}

TEST(AtomicDirectoryTest, CommitRenamesAbandonRemoves) {
  TempDir dir;
  std::string out = dir.Join("model");
  {
    AtomicDirectory partial;
    ASSERT_OK(partial.Create(out));
    ASSERT_OK(WriteFileAtomically(partial.path() + "/a", "1"));
  }
  EXPECT_FALSE(fs::exists(out));
  EXPECT_EQ(CountEntries(dir.path()), 0);

  AtomicDirectory done;
  ASSERT_OK(done.Create(out));
  ASSERT_OK(WriteFileAtomically(done.path() + "/a", "1"));
  ASSERT_OK(done.Commit());
  EXPECT_TRUE(fs::exists(out + "/a"));

  AtomicDirectory again;
  EXPECT_THAT(again.Create(out),
              StatusIs(absl::StatusCode::kAlreadyExists, ::testing::HasSubstr(out)));
  ASSERT_OK(again.Create(out, /*replace=*/true));
  ASSERT_OK(WriteFileAtomically(again.path() + "/b", "2"));
  ASSERT_OK(again.Commit());
  EXPECT_FALSE(fs::exists(out + "/a"));
  EXPECT_TRUE(fs::exists(out + "/b"));
  EXPECT_EQ(CountEntries(dir.path()), 1);
}

TEST(AtomicFileTest, MissingFolderIsNotFound) {
  EXPECT_THAT(WriteFileAtomically("/nonexistent-dir/x/y", "z"),
              StatusIs(absl::StatusCode::kNotFound,
                       ::testing::HasSubstr("/nonexistent-dir/x")));
}

}  // namespace
}  // namespace cohort
