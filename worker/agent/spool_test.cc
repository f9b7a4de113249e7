#include "worker/agent/spool.h"

#include <sys/wait.h>
#include <unistd.h>

#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gtest/gtest.h"

namespace cohort::worker {
namespace {

TEST(SpoolTest, KeepsOrderAndSurvivesAKilledWriter) {
  cohort::testing::TempDir dir;
  std::string path = dir.Join("spool.db");
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto spool = Spool::Open(path);
    if (!spool.ok()) _exit(1);
    for (int i = 0; i < 5; ++i) {
      if (!(*spool)->Append(SpoolKind::kResults, "l-1", 1, "batch" + std::to_string(i)).ok()) {
        _exit(1);
      }
    }
    if (!(*spool)->Append(SpoolKind::kComplete, "l-1", 1, "done").ok()) _exit(1);
    kill(getpid(), SIGKILL);  // no clean close
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  ASSERT_OK_AND_ASSIGN(auto spool, Spool::Open(path));
  ASSERT_OK_AND_ASSIGN(auto pending, spool->Pending(100));
  ASSERT_EQ(pending.size(), 6u);
  EXPECT_EQ(pending[0].payload, "batch0");
  EXPECT_EQ(pending[5].kind, SpoolKind::kComplete);
  ASSERT_OK(spool->Remove(pending[0].id));
  EXPECT_EQ(spool->Count().value(), 5);
  ASSERT_OK(spool->Append(SpoolKind::kFail, "l-2", 3, "x").status());
  ASSERT_OK(spool->RemoveLease("l-1"));
  ASSERT_OK_AND_ASSIGN(pending, spool->Pending(100));
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].lease_id, "l-2");
  EXPECT_EQ(pending[0].epoch, 3u);
}

}  // namespace
}  // namespace cohort::worker
