// The escape suite: each test runs a hostile program in the sandbox and then
// checks that the host is unchanged (no connection reached a host listener,
// no process survived, no file appeared or was read). Every test runs twice:
// through one bwrap per program (RunSandboxed) and through the Python fork
// server (RunPythonForked). As root the suite also re-runs itself once as
// the unprivileged user `nobody`.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/atomic_file.h"
#include "common/subprocess.h"
#include "common/testing/temp_dir.h"
#include "gtest/gtest.h"
#include "worker/sandbox/fork_server.h"
#include "worker/sandbox/sandbox.h"
#include "worker/sandbox/toolchains.h"

namespace cohort::worker::sandbox {
namespace {

// A /proc file's contents; "" once its process is gone. (Read through
// istreambuf_iterator, a process dying mid-read made libstdc++ throw
// "basic_filebuf::underflow error reading the file: No such process".)
std::string ReadAll(const std::filesystem::path& path) {
  return ReadFileToString(path.string()).value_or("");
}

// Counts live host processes whose command line or name (comm) contains
// `marker`: programs of the fork server share the server's command line, so
// the hostile programs below also name themselves (see NameSelf). Zombies
// (already dead, waiting for their namespace's teardown) do not count.
int ProcessesWith(const std::string& marker) {
  int count = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    if (absl::StrContains(ReadAll(entry.path() / "status"), "State:\tZ")) continue;
    if (absl::StrContains(ReadAll(entry.path() / "cmdline"), marker) ||
        absl::StrContains(ReadAll(entry.path() / "comm"), marker)) {
      ++count;
    }
  }
  return count;
}

// ProcessesWith once everything killed has had time to finish dying: a
// SIGKILLed tree (PID-namespace teardown) exits asynchronously, within
// milliseconds of the runner returning; 2 s is a generous bound.
int SurvivorsWith(const std::string& marker) {
  absl::Time give_up = absl::Now() + absl::Seconds(2);
  int count = ProcessesWith(marker);
  while (count > 0 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(20));
    count = ProcessesWith(marker);
  }
  return count;
}

// A name for one test's hostile processes, unique to this test process:
// ctest runs the suite as root and again as nobody side by side, and each
// counted the other's fork bomb as its own survivors. At most 15 characters
// (a process name's limit); the closing "z" keeps pid 12 from matching 123.
std::string Marker(absl::string_view what) { return absl::StrCat("c", what, getpid(), "z"); }

// Python that sets the process name (inherited by forks) to `marker`.
std::string NameSelf(const std::string& marker) {
  return absl::StrCat("import ctypes\nctypes.CDLL(None).prctl(15, b'", marker.substr(0, 15),
                      "', 0, 0, 0)\n");
}

// The parameter: true runs through the fork server, false through bwrap.
class EscapeTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    absl::Status available = SandboxAvailable();
    if (!available.ok()) GTEST_SKIP() << available;
    if (GetParam()) {
      available = ForkServerAvailable();
      if (!available.ok()) GTEST_SKIP() << available;
    }
  }

  // Runs python code; `marker` is passed as an argument so leftover
  // processes can be found in /proc.
  SandboxResult RunPython(const std::string& code, const Limits& limits,
                          const std::string& marker = "cohort-escape") {
    SandboxSpec spec;
    spec.files["main.py"] = code;
    spec.limits = limits;
    absl::StatusOr<SandboxResult> r;
    if (GetParam()) {
      spec.argv = {kPython, "-I", "-S", "/task/main.py", marker};
      r = RunPythonForked(spec, PythonPreload{{"json"}, {}});
      if (r.ok()) {
        EXPECT_EQ(r->runner, "fork-server");
      }
    } else {
      spec.argv = {kPython, "/task/main.py", marker};
      r = RunSandboxed(spec);
    }
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : SandboxResult{};
  }

  static Limits Short() {
    Limits l;
    l.cpu = absl::Seconds(2);
    l.wall = absl::Seconds(10);
    return l;
  }
};

TEST_P(EscapeTest, RunsAProgramWithNoCapabilitiesAndASeccompFilter) {
  SandboxResult r = RunPython(
      "import os\nst = open('/proc/self/status').read()\n"
      "print([l for l in st.splitlines() if l.startswith(('CapEff','Seccomp:'))])\n"
      "print(os.getpid(), open('/proc/sys/kernel/hostname').read().strip())\n"
      "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
      "print('unshare', libc.unshare(0x10000000), ctypes.get_errno())\n",
      Short());
  EXPECT_TRUE(r.Succeeded()) << r.Describe() << r.stderr_data;
  EXPECT_TRUE(absl::StrContains(r.stdout_data, "CapEff:\\t0000000000000000")) << r.stdout_data;
  EXPECT_TRUE(absl::StrContains(r.stdout_data, "Seccomp:\\t2")) << r.stdout_data;
  EXPECT_TRUE(absl::StrContains(r.stdout_data, "unshare -1 1")) << r.stdout_data;
  EXPECT_TRUE(absl::StrContains(r.stdout_data, "sandbox")) << r.stdout_data;
}

TEST_P(EscapeTest, CannotConnectToAHostListener) {
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(listener, 4), 0);
  socklen_t len = sizeof(addr);
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  SandboxResult r = RunPython(
      absl::StrCat("import socket\nfor host in ('127.0.0.1', '10.0.2.2', '8.8.8.8'):\n"
                   "  try:\n    socket.create_connection((host, ", port, "), timeout=2)\n"
                   "    print('connected', host)\n"
                   "  except OSError as e:\n    print('refused', host, e.errno)\n"),
      Short());
  EXPECT_TRUE(r.Succeeded()) << r.Describe() << r.stderr_data;
  EXPECT_FALSE(absl::StrContains(r.stdout_data, "connected")) << r.stdout_data;
  EXPECT_EQ(accept(listener, nullptr, nullptr), -1);  // nothing ever arrived
  close(listener);
}

TEST_P(EscapeTest, ForkBombIsContainedAndReaped) {
  Limits limits = Short();
  limits.processes = 32;
  limits.wall = absl::Seconds(3);
  SandboxResult r = RunPython(
      NameSelf(Marker("fork")) +
          "import os, time\nwhile True:\n  try:\n    os.fork()\n  except OSError:\n"
          "    time.sleep(0.01)\n",
      limits, Marker("fork"));
  EXPECT_FALSE(r.Succeeded());
  EXPECT_TRUE(r.timed_out) << r.Describe();  // ended by its deadline, not by luck
  EXPECT_EQ(SurvivorsWith(Marker("fork")), 0);
}

TEST_P(EscapeTest, MemoryBombIsKilled) {
  Limits limits = Short();
  limits.address_space = int64_t{512} << 20;
  SandboxResult r = RunPython("chunks = []\nwhile True:\n  chunks.append(bytearray(64 << 20))\n",
                              limits);
  EXPECT_FALSE(r.Succeeded());
  EXPECT_TRUE(absl::StrContains(r.stderr_data, "MemoryError") || r.term_signal != 0)
      << r.Describe();
  if (r.cgroup == "none") return;
  // Without an address-space limit the cgroup's memory limit must kill it.
  limits.address_space = 0;
  limits.memory = int64_t{256} << 20;
  r = RunPython("chunks = []\nwhile True:\n  chunks.append(b'x' * (32 << 20))\n", limits);
  EXPECT_FALSE(r.Succeeded());
  EXPECT_TRUE(r.memory_exceeded) << r.Describe();
}

TEST_P(EscapeTest, InfiniteLoopIsKilledAtTheCpuLimitAndTheDeadline) {
  Limits limits = Short();
  limits.cpu = absl::Seconds(1);
  SandboxResult r = RunPython("while True:\n  pass\n", limits);
  EXPECT_TRUE(r.cpu_exceeded) << r.Describe();
  limits.wall = absl::Seconds(1);
  r = RunPython(NameSelf(Marker("sleep")) + "import time\nwhile True:\n  time.sleep(1)\n",
                limits, Marker("sleep"));
  EXPECT_TRUE(r.timed_out) << r.Describe();
  EXPECT_EQ(SurvivorsWith(Marker("sleep")), 0);
}

TEST_P(EscapeTest, CannotWriteOutsideItsTmp) {
  cohort::testing::TempDir host;
  std::string target = host.Join("written-by-sandbox");
  SandboxResult r = RunPython(
      absl::StrCat("import os\nfor p in ['/usr/x', '/etc/x', '/x', '/task/x', '/proc/x', "
                   "'/proc/sysrq-trigger', '",
                   target, "']:\n  try:\n    open(p, 'w').write('x')\n    print('wrote', p)\n"
                   "  except OSError as e:\n    print('denied', p)\n"
                   "open('/tmp/ok', 'w').write('fine')\nprint('tmp', open('/tmp/ok').read())\n"),
      Short());
  EXPECT_TRUE(r.Succeeded()) << r.Describe() << r.stderr_data;
  EXPECT_FALSE(absl::StrContains(r.stdout_data, "wrote")) << r.stdout_data;
  EXPECT_TRUE(absl::StrContains(r.stdout_data, "tmp fine")) << r.stdout_data;
  EXPECT_FALSE(std::filesystem::exists(target));
}

TEST_P(EscapeTest, CannotReadACanaryOutsideTheAllowedPaths) {
  cohort::testing::TempDir host;
  std::string canary = host.Join("canary.txt");
  std::ofstream(canary) << "cohort-canary-secret";
  SandboxResult r = RunPython(
      absl::StrCat("import os\nfor p in ['", canary, "', '/etc/shadow', '/root/.bashrc']:\n"
                   "  try:\n    print('read', open(p).read())\n"
                   "  except OSError as e:\n    print('denied', p)\n"),
      Short());
  EXPECT_TRUE(r.Succeeded()) << r.Describe() << r.stderr_data;
  EXPECT_FALSE(absl::StrContains(r.stdout_data, "cohort-canary-secret"));
  EXPECT_FALSE(absl::StrContains(r.stdout_data, "read")) << r.stdout_data;
}

TEST_P(EscapeTest, OutputFloodIsCapped) {
  Limits limits = Short();
  limits.output_limit = 64 << 10;
  SandboxResult r = RunPython(
      "import os\nblock = b'x' * (1 << 20)\nwhile True:\n  os.write(1, block)\n", limits);
  EXPECT_FALSE(r.Succeeded());
  EXPECT_EQ(r.stdout_data.size(), size_t{64} << 10);
  EXPECT_TRUE(r.stdout_truncated);
}

TEST_P(EscapeTest, ProcessIgnoringSigtermStillDies) {
  Limits limits = Short();
  limits.wall = absl::Seconds(1);
  SandboxResult r = RunPython(
      NameSelf(Marker("stub")) +
          "import os, signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
          "if os.fork() == 0:\n  os.setsid()\n"
          "while True:\n  time.sleep(0.1)\n",
      limits, Marker("stub"));
  EXPECT_TRUE(r.timed_out) << r.Describe();
  EXPECT_EQ(SurvivorsWith(Marker("stub")), 0);
}

// A program that closes its output and keeps sleeping is still ended at the
// deadline (the runner waits for the program, not only for its pipes).
TEST_P(EscapeTest, ClosingItsOutputDoesNotEscapeTheDeadline) {
  Limits limits = Short();
  limits.wall = absl::Seconds(1);
  SandboxResult r = RunPython(NameSelf(Marker("close")) +
                                  "import os, time\nfor fd in (0, 1, 2):\n  os.close(fd)\n"
                                  "while True:\n  time.sleep(0.1)\n",
                              limits, Marker("close"));
  EXPECT_TRUE(r.timed_out) << r.Describe();
  EXPECT_EQ(SurvivorsWith(Marker("close")), 0);
}

// A daemon left behind (own session, output closed) dies with the program.
TEST_P(EscapeTest, ADaemonDoesNotOutliveItsProgram) {
  SandboxResult r = RunPython(
      NameSelf(Marker("daemon")) +
          "import os, time\nif os.fork() == 0:\n  os.setsid()\n"
          "  if os.fork() == 0:\n    for fd in (0, 1, 2):\n      os.close(fd)\n"
          "    time.sleep(60)\n  os._exit(0)\n"
          "time.sleep(0.2)\nprint('parent done')\n",
      Short(), Marker("daemon"));
  EXPECT_TRUE(r.Succeeded()) << r.Describe() << r.stderr_data;
  // The runner did not wait out the daemon's 60 s sleep (that would end at
  // the program's own deadline, as a time-out).
  EXPECT_FALSE(r.timed_out) << r.Describe();
  EXPECT_EQ(SurvivorsWith(Marker("daemon")), 0);
}

INSTANTIATE_TEST_SUITE_P(Runners, EscapeTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "ForkServer" : "Bwrap";
                         });

// As root, the same suite once more as `nobody` (no capabilities, no
// writable cgroup): the unprivileged path must hold too.
TEST(EscapeSuite, AlsoPassesAsAnUnprivilegedUser) {
  if (getuid() != 0) GTEST_SKIP() << "not root: this run already is unprivileged";
  if (access("/usr/bin/setpriv", X_OK) != 0) GTEST_SKIP() << "setpriv is missing";
  std::error_code ec;
  std::string self = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  SubprocessOptions options;
  options.argv = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                  "--", self, "--gtest_filter=Runners/EscapeTest.*:ForkServerTest.*"};
  options.env = std::map<std::string, std::string>{{"PATH", "/usr/bin"}, {"TMPDIR", "/tmp"}};
  options.timeout = absl::Seconds(120);
  absl::StatusOr<SubprocessResult> r = RunSubprocess(options);
  ASSERT_TRUE(r.ok()) << r.status();
  if (absl::StrContains(r->stdout_data + r->stderr_data, "Permission denied")) {
    GTEST_SKIP() << "the test binary is not readable by nobody: " << r->stderr_data;
  }
  EXPECT_TRUE(r->Succeeded()) << r->Describe() << "\n" << r->stdout_data;
  EXPECT_FALSE(absl::StrContains(r->stdout_data, "SKIPPED")) << r->stdout_data;
}

}  // namespace
}  // namespace cohort::worker::sandbox
