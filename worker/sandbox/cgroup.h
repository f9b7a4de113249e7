// File: cgroup.h
//
// A cgroup (one per bwrap run, or one per fork server) that bounds a sandbox's whole process tree (memory and
// process count) and lets the runner kill every task in it at the end.
// Layouts: cgroup v1 with the `memory` and `pids` controllers mounted under
// /sys/fs/cgroup/{memory,pids} (this machine's hybrid layout), or a cgroup
// v2 unified hierarchy at /sys/fs/cgroup with both controllers available.
// The group is created beside ours under a `cohort-sandbox` folder; that
// needs write access (root, or a delegated subtree). Where neither works,
// Create() returns nullptr and the sandbox relies on rlimits and its PID
// namespace alone (documented in docs/sandbox.md).
#ifndef COHORT_WORKER_SANDBOX_CGROUP_H_
#define COHORT_WORKER_SANDBOX_CGROUP_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace cohort::worker::sandbox {

class RunCgroup {
 public:
  // A fresh group limited to `memory_bytes` (0: no memory limit) and
  // `max_tasks` tasks; nullptr when no usable cgroup hierarchy is writable.
  static std::unique_ptr<RunCgroup> Create(int64_t memory_bytes, int max_tasks);
  // Kills whatever is left in the group and removes it.
  ~RunCgroup();
  RunCgroup(const RunCgroup&) = delete;
  RunCgroup& operator=(const RunCgroup&) = delete;

  // The cgroup.procs files a child writes its pid into before exec (one per
  // v1 controller, one for v2). Prepared before fork: the child only write()s.
  const std::vector<std::string>& procs_files() const { return procs_files_; }
  // SIGKILLs every task in the group until it is empty (bounded retries).
  void KillAll();
  // True when the kernel's OOM killer fired inside the group.
  bool OomKilled() const { return OomKillCount() > 0; }
  // How many times the OOM killer fired inside the group so far (a group
  // reused for several programs compares counts before and after each).
  int64_t OomKillCount() const;
  // Changes the memory and task limits of a live group; false on failure.
  bool SetLimits(int64_t memory_bytes, int max_tasks);
  // "v1" or "v2".
  const char* layout() const { return v2_ ? "v2" : "v1"; }

 private:
  RunCgroup() = default;
  bool v2_ = false;
  std::vector<std::string> dirs_;  // the per-run directories
  std::vector<std::string> procs_files_;
  std::string memory_dir_;
  std::string pids_dir_;
};

// "v1", "v2" or "none": what Create() would use on this machine now.
std::string CgroupSupport();

}  // namespace cohort::worker::sandbox

#endif  // COHORT_WORKER_SANDBOX_CGROUP_H_
