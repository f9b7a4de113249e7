#include "worker/sandbox/cgroup.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace cohort::worker::sandbox {
namespace {

constexpr char kRoot[] = "/sys/fs/cgroup";
constexpr char kFolder[] = "cohort-sandbox";

bool WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.flush();
  return static_cast<bool>(out);
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

bool MakeDir(const std::string& path) {
  return mkdir(path.c_str(), 0755) == 0 || errno == EEXIST;
}

std::string UniqueName() {
  static std::atomic<uint64_t> counter{0};
  return absl::StrCat("run-", getpid(), "-", counter.fetch_add(1));
}

bool V2Usable() {
  std::string controllers = ReadText(absl::StrCat(kRoot, "/cgroup.controllers"));
  return absl::StrContains(controllers, "memory") && absl::StrContains(controllers, "pids") &&
         access(kRoot, W_OK) == 0;
}

bool V1Usable() {
  for (const char* c : {"memory", "pids"}) {
    std::string dir = absl::StrCat(kRoot, "/", c);
    if (access(absl::StrCat(dir, "/cgroup.procs").c_str(), F_OK) != 0) return false;
    if (access(dir.c_str(), W_OK) != 0) return false;
  }
  return true;
}

}  // namespace

std::string CgroupSupport() {
  if (V2Usable()) return "v2";
  if (V1Usable()) return "v1";
  return "none";
}

std::unique_ptr<RunCgroup> RunCgroup::Create(int64_t memory_bytes, int max_tasks) {
  std::unique_ptr<RunCgroup> group(new RunCgroup());
  std::string name = UniqueName();
  if (V2Usable()) {
    group->v2_ = true;
    std::string parent = absl::StrCat(kRoot, "/", kFolder);
    // Controllers must be enabled in each parent's subtree_control.
    if (!MakeDir(parent) ||
        !WriteText(absl::StrCat(kRoot, "/cgroup.subtree_control"), "+memory +pids") ||
        !WriteText(parent + "/cgroup.subtree_control", "+memory +pids")) {
      return nullptr;
    }
    std::string dir = absl::StrCat(parent, "/", name);
    if (!MakeDir(dir)) return nullptr;
    group->dirs_.push_back(dir);
    group->memory_dir_ = dir;
    group->pids_dir_ = dir;
    group->procs_files_.push_back(dir + "/cgroup.procs");
    WriteText(dir + "/memory.swap.max", "0");
    if (!group->SetLimits(memory_bytes, max_tasks)) return nullptr;
    return group;
  }
  if (!V1Usable()) return nullptr;
  for (const char* controller : {"memory", "pids"}) {
    std::string parent = absl::StrCat(kRoot, "/", controller, "/", kFolder);
    std::string dir = absl::StrCat(parent, "/", name);
    if (!MakeDir(parent) || !MakeDir(dir)) return nullptr;
    group->dirs_.push_back(dir);
    group->procs_files_.push_back(dir + "/cgroup.procs");
  }
  group->memory_dir_ = group->dirs_[0];
  group->pids_dir_ = group->dirs_[1];
  if (!group->SetLimits(memory_bytes, max_tasks)) return nullptr;
  return group;
}

bool RunCgroup::SetLimits(int64_t memory_bytes, int max_tasks) {
  std::string memory_file = v2_ ? "/memory.max" : "/memory.limit_in_bytes";
  std::string memory = memory_bytes > 0 ? absl::StrCat(memory_bytes) : (v2_ ? "max" : "-1");
  return WriteText(memory_dir_ + memory_file, memory) &&
         WriteText(pids_dir_ + "/pids.max", absl::StrCat(max_tasks));
}

void RunCgroup::KillAll() {
  if (v2_ && !dirs_.empty() && WriteText(dirs_[0] + "/cgroup.kill", "1")) return;
  for (int round = 0; round < 50; ++round) {
    bool any = false;
    for (const std::string& procs : procs_files_) {
      for (absl::string_view line : absl::StrSplit(ReadText(procs), '\n')) {
        int pid = 0;
        if (absl::SimpleAtoi(line, &pid) && pid > 0) {
          kill(pid, SIGKILL);
          any = true;
        }
      }
    }
    if (!any) return;
    usleep(2000);
  }
}

int64_t RunCgroup::OomKillCount() const {
  std::string file = v2_ ? "/memory.events" : "/memory.oom_control";
  for (absl::string_view line : absl::StrSplit(ReadText(memory_dir_ + file), '\n')) {
    int64_t count = 0;
    if (absl::ConsumePrefix(&line, "oom_kill ") && absl::SimpleAtoi(line, &count)) return count;
  }
  return 0;
}

RunCgroup::~RunCgroup() {
  KillAll();
  for (const std::string& dir : dirs_) {
    // Removal fails while the last tasks are still exiting; retry briefly.
    for (int i = 0; i < 100 && rmdir(dir.c_str()) != 0 && errno == EBUSY; ++i) usleep(2000);
  }
}

}  // namespace cohort::worker::sandbox
