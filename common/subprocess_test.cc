#include "common/subprocess.h"

#include <signal.h>

#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gtest/gtest.h"

namespace cohort {
namespace {

using ::cohort::testing::StatusIs;
using ::testing::HasSubstr;

SubprocessOptions Shell(const std::string& script) {
  SubprocessOptions options;
  options.argv = {"/bin/sh", "-c", script};
  return options;
}

bool ProcessAlive(pid_t pid) { return kill(pid, 0) == 0; }

// Polls because the kernel reaps orphans asynchronously (init adopts them).
bool WaitUntilDead(pid_t pid) {
  for (int i = 0; i < 200 && ProcessAlive(pid); ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  return !ProcessAlive(pid);
}

TEST(SubprocessTest, CapturesOutputAndExitCode) {
  ASSERT_OK_AND_ASSIGN(SubprocessResult r,
                       RunSubprocess(Shell("echo out; echo err >&2; exit 3")));
  EXPECT_EQ(r.stdout_data, "out\n");
  EXPECT_EQ(r.stderr_data, "err\n");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_FALSE(r.Succeeded());
  EXPECT_THAT(r.Describe(), HasSubstr("exit code 3"));
}

TEST(SubprocessTest, ArgumentsAreNotShellInterpreted) {
  SubprocessOptions options;
  options.argv = {"/bin/echo", "a b", "$HOME", ";", "rm -rf /"};
  ASSERT_OK_AND_ASSIGN(SubprocessResult r, RunSubprocess(options));
  EXPECT_EQ(r.stdout_data, "a b $HOME ; rm -rf /\n");
  EXPECT_TRUE(r.Succeeded());
}

TEST(SubprocessTest, EnvironmentIsExactWhenGiven) {
  SubprocessOptions options = Shell("echo \"[$ONLY][$EXTRA][$HOME]\"");
  options.env = std::map<std::string, std::string>{{"ONLY", "1"}};
  options.extra_env = {{"EXTRA", "2"}};
  ASSERT_OK_AND_ASSIGN(SubprocessResult r, RunSubprocess(options));
  EXPECT_EQ(r.stdout_data, "[1][2][]\n");
}

TEST(SubprocessTest, StdinAndWorkingDir) {
  cohort::testing::TempDir dir;
  SubprocessOptions options = Shell("pwd; cat");
  options.working_dir = dir.path();
  options.stdin_data = std::string(200000, 'z');  // larger than a pipe buffer
  ASSERT_OK_AND_ASSIGN(SubprocessResult r, RunSubprocess(options));
  EXPECT_EQ(r.stdout_data, dir.path() + "\n" + options.stdin_data);
}

TEST(SubprocessTest, MissingProgramIsNotFound) {
  SubprocessOptions options;
  options.argv = {"cohort-no-such-program-xyz"};
  EXPECT_THAT(RunSubprocess(options),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("cohort-no-such-program-xyz")));
}

TEST(SubprocessTest, TimeoutKillsWholeProcessGroup) {
  // The shell starts a background sleep (a grandchild) and prints its pid.
  SubprocessOptions options = Shell("sleep 60 & echo $!; wait");
  options.timeout = absl::Milliseconds(300);
  options.kill_grace = absl::Milliseconds(200);
  absl::Time start = absl::Now();
  ASSERT_OK_AND_ASSIGN(SubprocessResult r, RunSubprocess(options));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_TRUE(r.timed_out);
  EXPECT_FALSE(r.Succeeded());
  int grandchild = 0;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(r.stdout_data),
                               &grandchild))
      << r.stdout_data;
  EXPECT_TRUE(WaitUntilDead(grandchild));
}

TEST(SubprocessTest, ChildIgnoringSigtermIsKilled) {
  SubprocessOptions options = Shell("trap '' TERM; while :; do sleep 0.05; done");
  options.timeout = absl::Milliseconds(200);
  options.kill_grace = absl::Milliseconds(300);
  ASSERT_OK_AND_ASSIGN(SubprocessResult r, RunSubprocess(options));
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.term_signal, SIGKILL);
}

TEST(SubprocessTest, LeftoverHelperHoldingPipeDoesNotHang) {
  absl::Time start = absl::Now();
  ASSERT_OK_AND_ASSIGN(SubprocessResult r,
                       RunSubprocess(Shell("(sleep 60 &); echo done")));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_EQ(r.stdout_data, "done\n");
  EXPECT_TRUE(r.Succeeded());
}

TEST(SubprocessTest, OutputIsCapped) {
  SubprocessOptions options = Shell("head -c 1000000 /dev/zero");
  options.output_limit = 1000;
  std::string seen;
  size_t streamed = 0;
  options.on_stdout = [&](absl::string_view chunk) { streamed += chunk.size(); };
  ASSERT_OK_AND_ASSIGN(SubprocessResult r, RunSubprocess(options));
  EXPECT_EQ(r.stdout_data.size(), 1000u);
  EXPECT_TRUE(r.stdout_truncated);
  EXPECT_EQ(streamed, 1000000u);
}

TEST(SubprocessTest, OutputToLogFile) {
  cohort::testing::TempDir dir;
  SubprocessOptions options = Shell("echo to-log");
  options.stdout_path = dir.Join("step.log");
  ASSERT_OK_AND_ASSIGN(SubprocessResult r, RunSubprocess(options));
  EXPECT_TRUE(r.stdout_data.empty());
  std::ifstream in(options.stdout_path);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "to-log");
}

TEST(SubprocessTest, ShouldStopCancelsTheChild) {
  SubprocessOptions options = Shell("sleep 60");
  absl::Time stop_at = absl::Now() + absl::Milliseconds(200);
  options.should_stop = [&] { return absl::Now() >= stop_at; };
  ASSERT_OK_AND_ASSIGN(SubprocessResult r, RunSubprocess(options));
  EXPECT_TRUE(r.cancelled);
  EXPECT_FALSE(r.timed_out);
  EXPECT_FALSE(r.Succeeded());
  EXPECT_LT(r.wall_time, absl::Seconds(10));
  EXPECT_EQ(r.Describe(), "cancelled");
}

TEST(SubprocessTest, SignalledChildReportsSignal) {
  ASSERT_OK_AND_ASSIGN(SubprocessResult r, RunSubprocess(Shell("kill -9 $$")));
  EXPECT_EQ(r.term_signal, SIGKILL);
  EXPECT_THAT(r.Describe(), HasSubstr("signal 9"));
}

TEST(SubprocessClassTest, StartAndTerminateLongLivedChild) {
  Subprocess child;
  SubprocessOptions options = Shell("sleep 60");
  ASSERT_OK(child.Start(options));
  pid_t pid = child.pid();
  EXPECT_TRUE(child.running());
  EXPECT_FALSE(child.WaitFor(absl::Milliseconds(50)));
  child.Terminate(absl::Seconds(2));
  EXPECT_FALSE(child.running());
  EXPECT_EQ(child.term_signal(), SIGTERM);
  EXPECT_FALSE(ProcessAlive(pid));
}

TEST(SubprocessClassTest, ExitIsObserved) {
  Subprocess child;
  ASSERT_OK(child.Start(Shell("exit 7")));
  EXPECT_TRUE(child.WaitFor(absl::Seconds(5)));
  EXPECT_EQ(child.exit_code(), 7);
}

}  // namespace
}  // namespace cohort
