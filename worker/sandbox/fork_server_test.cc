// The fork server's own guarantees on top of the escape suite (which runs
// every hostile program through it too): each program gets fresh
// namespaces and mounts (nothing one program leaves is seen by the next),
// cannot see or signal the server, and gets its argv, files, stdin and
// exit status exactly as a fresh `python3 -I -S` would.
#include "worker/sandbox/fork_server.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "worker/sandbox/toolchains.h"

namespace cohort::worker::sandbox {
namespace {

class ForkServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::Status available = ForkServerAvailable();
    if (!available.ok()) GTEST_SKIP() << available;
  }

  static SandboxResult Run(const std::string& code, const std::string& stdin_data = "",
                           const PythonPreload& preload = PythonPreload{{"json", "re"}, {}}) {
    SandboxSpec spec;
    spec.argv = {kPython, "-I", "-S", "/task/main.py", "arg-one"};
    spec.files["main.py"] = code;
    spec.files["data/input.txt"] = "file-content";
    spec.stdin_data = stdin_data;
    spec.env["COHORT_TEST_VAR"] = "set";
    spec.limits.cpu = absl::Seconds(5);
    spec.limits.wall = absl::Seconds(20);
    absl::StatusOr<SandboxResult> r = RunPythonForked(spec, preload);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return SandboxResult{};
    EXPECT_EQ(r->runner, "fork-server");
    return *r;
  }
};

TEST_F(ForkServerTest, ProgramSeesItsArgvFilesStdinAndEnvironment) {
  SandboxResult r = Run(
      "import os, sys\n"
      "print(sys.argv, open('/task/data/input.txt').read(), sys.stdin.read())\n"
      "print(os.environ.get('COHORT_TEST_VAR'), os.environ.get('PATH'), os.getcwd())\n"
      "print(sorted(os.environ))\n"
      "sys.exit(7)\n",
      "from-stdin");
  EXPECT_EQ(r.exit_code, 7) << r.Describe() << r.stderr_data;
  EXPECT_TRUE(absl::StrContains(r.stdout_data,
                                "['/task/main.py', 'arg-one'] file-content from-stdin"))
      << r.stdout_data;
  EXPECT_TRUE(absl::StrContains(r.stdout_data, "set /usr/bin /tmp")) << r.stdout_data;
  // Nothing of the host's or the server's environment beyond the sandbox's.
  EXPECT_TRUE(absl::StrContains(r.stdout_data,
                                "['COHORT_TEST_VAR', 'HOME', 'LANG', 'PATH', 'TMPDIR']"))
      << r.stdout_data;
}

TEST_F(ForkServerTest, ModulesPreloadedFromSourceAreImportedOnce) {
  PythonPreload preload;
  preload.sources["cohort_probe"] =
      "import os\nLOADED_IN = os.readlink('/proc/self/ns/pid')\n"
      "def main():\n  print(LOADED_IN != os.readlink('/proc/self/ns/pid'))\n";
  const char* program = "import sys, cohort_probe\ncohort_probe.main()\n"
                        "print('cohort_probe' in sys.modules, 'colorsys' in sys.modules)\n";
  SandboxResult r = Run(program, "", preload);
  // Imported in the server (another PID namespace), not by the program.
  EXPECT_EQ(r.stdout_data, "True\nTrue False\n") << r.Describe() << r.stderr_data;
  preload.modules = {"colorsys"};  // another preload: another server
  r = Run(program, "", preload);
  EXPECT_EQ(r.stdout_data, "True\nTrue True\n") << r.Describe() << r.stderr_data;
}

TEST_F(ForkServerTest, UncaughtExceptionFailsWithTheProgramsTraceback) {
  SandboxResult r = Run("def f():\n  raise ValueError('boom')\nf()\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(r.stderr_data, "/task/main.py\", line 2, in f")) << r.stderr_data;
  EXPECT_TRUE(absl::StrContains(r.stderr_data, "ValueError: boom")) << r.stderr_data;
  // The server's own frames are not shown.
  EXPECT_FALSE(absl::StrContains(r.stderr_data, "run_program")) << r.stderr_data;
}

TEST_F(ForkServerTest, ProgramsShareNoFilesNamespacesOrProcesses) {
  // The first program leaves files in every writable place, a changed
  // working state and a background process; the second must see none.
  SandboxResult first = Run(
      "import os, time\n"
      "for d in ('/tmp', '/dev/shm'):\n  open(d + '/left-behind', 'w').write('x')\n"
      "try:\n  open('/dev/left-behind', 'w')\nexcept OSError:\n  print('/dev read-only')\n"
      "if os.fork() == 0:\n  os.setsid()\n  time.sleep(30)\n  os._exit(0)\n"
      "print(os.getpid(), os.getppid())\n");
  ASSERT_TRUE(first.Succeeded()) << first.Describe() << first.stderr_data;
  // The child of its own PID 1; /dev (shared with the server) is read-only.
  EXPECT_EQ(first.stdout_data, "/dev read-only\n2 1\n");
  SandboxResult second = Run(
      "import os\n"
      "print(os.listdir('/tmp'), os.listdir('/dev/shm'), sorted(os.listdir('/task')))\n"
      "print(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))\n");
  ASSERT_TRUE(second.Succeeded()) << second.Describe() << second.stderr_data;
  EXPECT_EQ(second.stdout_data, "[] [] ['data', 'main.py']\n[1, 2]\n");
}

TEST_F(ForkServerTest, KillingEverythingItCanSeeLeavesTheServerRunning) {
  // kill(-1) reaches every process the caller may signal except itself and
  // PID 1: in its own namespace that is nobody.
  SandboxResult r = Run(
      "import os, signal\ntry:\n  os.kill(-1, signal.SIGKILL)\n"
      "except ProcessLookupError:\n  print('nothing to signal')\nprint('alive')\n");
  EXPECT_EQ(r.stdout_data, "nothing to signal\nalive\n") << r.Describe() << r.stderr_data;
  SandboxResult after = Run("print('still served')\n");
  EXPECT_EQ(after.stdout_data, "still served\n") << after.Describe() << after.stderr_data;
}

TEST_F(ForkServerTest, ProgramHasNoPrivilegesAndItsOwnNamespaces) {
  SandboxResult r = Run(
      "import os, socket\n"
      "st = open('/proc/self/status').read()\n"
      "print([l for l in st.splitlines() if l.startswith(('CapEff', 'CapBnd', 'CapAmb',"
      " 'NoNewPrivs', 'Seccomp:'))])\n"
      "print(os.uname().nodename)\n"
      "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
      "c = socket.create_connection(s.getsockname()); print('loopback works')\n"
      "print([n for n in os.listdir('/proc/self/ns')])\n");
  ASSERT_TRUE(r.Succeeded()) << r.Describe() << r.stderr_data;
  for (const char* want : {"CapEff:\\t0000000000000000", "CapBnd:\\t0000000000000000",
                           "CapAmb:\\t0000000000000000", "NoNewPrivs:\\t1", "Seccomp:\\t2",
                           "sandbox\n", "loopback works"}) {
    EXPECT_TRUE(absl::StrContains(r.stdout_data, want)) << want << "\n" << r.stdout_data;
  }
}

TEST_F(ForkServerTest, RejectsWhatItCannotRun) {
  SandboxSpec spec;
  spec.argv = {kPython, "/task/main.py"};  // not -I -S
  EXPECT_EQ(RunPythonForked(spec, {}).status().code(), absl::StatusCode::kInvalidArgument);
  spec.argv = {kPython, "-I", "-S", "/task/main.py"};
  spec.host_workdir = "/tmp";
  EXPECT_EQ(RunPythonForked(spec, {}).status().code(), absl::StatusCode::kInvalidArgument);
  spec.host_workdir.clear();
  spec.files["../escape.py"] = "";
  EXPECT_EQ(RunPythonForked(spec, {}).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cohort::worker::sandbox
