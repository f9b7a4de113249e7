#include "worker/sandbox/sandbox.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/errno_status.h"
#include "common/safe_path.h"
#include "common/status_macros.h"
#include "worker/sandbox/cgroup.h"
#include "worker/sandbox/run_common.h"
#include "worker/sandbox/seccomp_filter.h"
#include "worker/sandbox/spawn.h"

namespace cohort::worker::sandbox {
namespace {

constexpr char kPrlimit[] = "/usr/bin/prlimit";

// The host folder mounted at /task; removed when we created it.
class WorkDir {
 public:
  static absl::StatusOr<std::unique_ptr<WorkDir>> Open(const std::string& given) {
    std::unique_ptr<WorkDir> dir(new WorkDir());
    if (!given.empty()) {
      dir->path_ = given;
      return dir;
    }
    const char* base = std::getenv("TMPDIR");
    std::string pattern = absl::StrCat(base != nullptr ? base : "/tmp", "/cohort-sbx-XXXXXX");
    if (mkdtemp(pattern.data()) == nullptr) return ErrnoToStatus(errno, "sandbox: mkdtemp");
    dir->path_ = pattern;
    dir->owned_ = true;
    return dir;
  }
  ~WorkDir() {
    std::error_code ec;
    if (owned_) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  WorkDir() = default;
  std::string path_;
  bool owned_ = false;
};

absl::Status WriteFiles(const std::string& root, const std::map<std::string, std::string>& files) {
  for (const auto& [name, bytes] : files) {
    COHORT_RETURN_IF_ERROR(CheckFileName(name));
    std::filesystem::path path = std::filesystem::path(root) / name;
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    std::ofstream out(path, std::ios::binary);
    out << bytes;
    if (!out) return absl::InternalError(absl::StrCat("sandbox: cannot write ", path.string()));
  }
  return absl::OkStatus();
}

std::vector<std::string> BwrapArgs(const SandboxSpec& spec, const std::string& workdir,
                                   bool with_seccomp) {
  std::vector<std::string> a = BwrapBaseArgs(spec.limits.tmp_size);
  a.insert(a.begin() + 1, {"--cap-drop", "ALL"});
  a.insert(a.end(), {spec.workdir_writable ? "--bind" : "--ro-bind", workdir, kTaskDir});
  for (const std::string& path : spec.ro_paths) {
    a.insert(a.end(), {"--ro-bind-try", path, path});
  }
  // The root itself is a bwrap tmpfs: make it read-only, so /tmp and (when
  // asked) /task are the only writable places.
  a.insert(a.end(), {"--remount-ro", "/", "--chdir", spec.cwd, "--clearenv"});
  for (const auto& [k, v] : SandboxEnv(spec)) a.insert(a.end(), {"--setenv", k, v});
  if (with_seccomp) a.insert(a.end(), {"--seccomp", absl::StrCat(kExtraFd)});
  // Limits are applied inside the new user namespace, so RLIMIT_NPROC counts
  // only this sandbox's tasks (the kernel charges per namespace).
  const Limits& l = spec.limits;
  int64_t cpu = CpuSeconds(l);
  a.insert(a.end(), {"--", kPrlimit, absl::StrCat("--cpu=", cpu, ":", cpu + 1),
                     absl::StrCat("--nproc=", l.processes),
                     absl::StrCat("--nofile=", l.open_files),
                     absl::StrCat("--fsize=", l.file_size), "--core=0"});
  if (l.address_space > 0) a.push_back(absl::StrCat("--as=", l.address_space));
  a.push_back("--");
  a.insert(a.end(), spec.argv.begin(), spec.argv.end());
  return a;
}

}  // namespace

absl::StatusOr<int> MemFile(const char* name, const std::string& bytes) {
  int fd = memfd_create(name, MFD_CLOEXEC);
  if (fd < 0) return ErrnoToStatus(errno, "sandbox: memfd_create");
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      close(fd);
      return ErrnoToStatus(err, "sandbox: memfd write");
    }
    done += n;
  }
  lseek(fd, 0, SEEK_SET);
  return fd;
}

int64_t CpuSeconds(const Limits& limits) {
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(absl::ToDoubleSeconds(limits.cpu))));
}

std::map<std::string, std::string> SandboxEnv(const SandboxSpec& spec) {
  std::map<std::string, std::string> env = {
      {"PATH", "/usr/bin"}, {"HOME", "/tmp"}, {"LANG", "C.UTF-8"}, {"TMPDIR", "/tmp"}};
  for (const auto& [k, v] : spec.env) env[k] = v;
  return env;
}

std::vector<std::string> BwrapBaseArgs(int64_t tmp_size) {
  return {kBwrap, "--unshare-all", "--unshare-user", "--die-with-parent", "--new-session",
          "--hostname", "sandbox", "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib",
          "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin",
          "--symlink", "usr/sbin", "/sbin", "--proc", "/proc", "--dev", "/dev",
          "--size", absl::StrCat(tmp_size), "--tmpfs", "/tmp"};
}

absl::Status CheckFileName(const std::string& name) {
  return CheckRelativePath(name, "sandbox: file name");
}

void FillResult(SpawnOutcome o, const Limits& limits, SandboxResult* r) {
  if (WIFSIGNALED(o.wait_status)) {
    r->term_signal = WTERMSIG(o.wait_status);
  } else if (WIFEXITED(o.wait_status)) {
    int code = WEXITSTATUS(o.wait_status);
    if (code > kSignalBase && code < kSignalBase + NSIG) {
      r->term_signal = code - kSignalBase;
    } else {
      r->exit_code = code;
    }
  }
  r->timed_out = o.timed_out;
  r->output_flooded = o.flooded;
  // SIGXCPU comes from the soft CPU limit; SIGKILL from the hard one (a
  // program that ignored SIGXCPU) when the recorded CPU time reached it.
  r->cpu_exceeded =
      r->term_signal == SIGXCPU ||
      (r->term_signal == SIGKILL && !o.timed_out && !o.flooded &&
       o.cpu_time >= absl::Seconds(CpuSeconds(limits)) - absl::Milliseconds(50));
  r->stdout_data = std::move(o.stdout_data);
  r->stderr_data = std::move(o.stderr_data);
  r->stdout_truncated = o.stdout_truncated;
  r->stderr_truncated = o.stderr_truncated;
  r->wall_time = o.wall_time;
  r->cpu_time = o.cpu_time;
}

std::string SandboxResult::Describe() const {
  if (timed_out) return absl::StrCat("wall deadline (", absl::FormatDuration(wall_time), ")");
  if (cpu_exceeded) return absl::StrCat("CPU limit (", absl::FormatDuration(cpu_time), ")");
  if (memory_exceeded) return "memory limit (OOM-killed)";
  if (output_flooded) return "output flood";
  if (term_signal != 0) return absl::StrCat("killed by signal ", term_signal);
  return absl::StrCat("exit code ", exit_code);
}

absl::StatusOr<SandboxResult> RunSandboxed(const SandboxSpec& spec) {
  if (spec.argv.empty() || spec.argv[0].empty() || spec.argv[0][0] != '/') {
    return absl::InvalidArgumentError("sandbox: argv[0] must be an absolute path");
  }
  COHORT_ASSIGN_OR_RETURN(std::string bpf, SeccompBpf());
  COHORT_ASSIGN_OR_RETURN(std::unique_ptr<WorkDir> workdir, WorkDir::Open(spec.host_workdir));
  COHORT_RETURN_IF_ERROR(WriteFiles(workdir->path(), spec.files));
  COHORT_ASSIGN_OR_RETURN(int seccomp_fd, MemFile("cohort-seccomp", bpf));
  absl::StatusOr<int> stdin_fd = MemFile("cohort-stdin", spec.stdin_data);
  if (!stdin_fd.ok()) {
    close(seccomp_fd);
    return stdin_fd.status();
  }
  std::unique_ptr<RunCgroup> cgroup =
      RunCgroup::Create(spec.limits.memory, spec.limits.processes + 8);
  SpawnRequest request;
  request.argv = BwrapArgs(spec, workdir->path(), true);
  request.env = {"PATH=/usr/bin:/bin"};
  request.stdin_fd = *stdin_fd;
  request.extra_fds = {seccomp_fd};
  if (cgroup != nullptr) request.cgroup_procs = cgroup->procs_files();
  request.wall_timeout = spec.limits.wall;
  request.output_limit = spec.limits.output_limit;
  request.on_kill = [&cgroup] {
    if (cgroup != nullptr) cgroup->KillAll();
  };
  absl::StatusOr<SpawnOutcome> outcome = SpawnAndWait(request);
  close(seccomp_fd);
  close(*stdin_fd);
  if (!outcome.ok()) return outcome.status();
  SandboxResult r;
  r.cgroup = cgroup != nullptr ? cgroup->layout() : "none";
  if (cgroup != nullptr) {
    cgroup->KillAll();
    r.memory_exceeded = cgroup->OomKilled();
  }
  FillResult(std::move(*outcome), spec.limits, &r);
  if (r.exit_code == 1 && absl::StartsWith(r.stderr_data, "bwrap: ")) {
    return absl::FailedPreconditionError(
        absl::StrCat("sandbox setup failed: ", r.stderr_data.substr(0, 300)));
  }
  return r;
}

absl::Status SandboxAvailable() {
  static const auto* status = new absl::Status([]() -> absl::Status {
    for (const char* tool : {kBwrap, kPrlimit}) {
      if (access(tool, X_OK) != 0) {
        return absl::FailedPreconditionError(
            absl::StrCat("sandbox: ", tool, " is missing (Debian packages bubblewrap, "
                         "util-linux)"));
      }
    }
    SandboxSpec spec;
    spec.argv = {"/usr/bin/true"};
    absl::StatusOr<SandboxResult> r = RunSandboxed(spec);
    if (!r.ok()) return r.status();
    if (!r->Succeeded()) {
      return absl::FailedPreconditionError(
          absl::StrCat("sandbox: a trivial program failed: ", r->Describe(), " ",
                       r->stderr_data.substr(0, 300)));
    }
    return absl::OkStatus();
  }());
  return *status;
}

}  // namespace cohort::worker::sandbox
