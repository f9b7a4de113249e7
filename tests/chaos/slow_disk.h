// File: slow_disk.h
//
// A slow disk for chosen processes: a cgroup v1 blkio group whose throttle
// (blk-throttle: blkio.throttle.{read,write}_{bps,iops}_device) limits the
// block device that holds a given folder. Processes moved into it (and the
// children they start meanwhile) wait in the block layer for every request
// they issue to that device: reads that miss the page cache, and the
// writeback their fsync() (SQLite commits) starts. Plain buffered writes are
// written back later by kernel threads outside the group (cgroup v1 does not
// attribute writeback), so those are not slowed.
//
// Needs root and a cgroup v1 blkio hierarchy at /sys/fs/cgroup/blkio; Create
// says why when it cannot be done (tmpfs or overlay folder, no controller...).
#ifndef COHORT_TESTS_CHAOS_SLOW_DISK_H_
#define COHORT_TESTS_CHAOS_SLOW_DISK_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cohort::testing {

class SlowDisk {
 public:
  struct Limits {
    uint64_t read_bps = 0, write_bps = 0;    // 0: no limit
    uint32_t read_iops = 0, write_iops = 0;  // 0: no limit
  };
  // A fresh group named `name` (unique on this machine) limiting the device
  // that holds `folder`.
  static absl::StatusOr<std::unique_ptr<SlowDisk>> Create(
      const std::string& folder, const std::string& name, const Limits& limits);
  // Moves every process still in the group back and removes the group.
  ~SlowDisk();
  SlowDisk(const SlowDisk&) = delete;
  SlowDisk& operator=(const SlowDisk&) = delete;

  // Moves the process (all its threads) into the group.
  absl::Status Add(pid_t pid);
  // Read and write requests to the device that went through the group's
  // throttle so far (blkio.throttle.io_serviced).
  uint64_t ServicedReads() const { return Serviced("Read"); }
  uint64_t ServicedWrites() const { return Serviced("Write"); }
  const std::string& device() const { return device_; }  // "major:minor"

 private:
  SlowDisk(std::string group, std::string parent, std::string device)
      : group_(std::move(group)),
        parent_(std::move(parent)),
        device_(std::move(device)) {}
  uint64_t Serviced(const std::string& op) const;

  std::string group_;   // the group's folder
  std::string parent_;  // the folder of the group this process is in
  std::string device_;
};

}  // namespace cohort::testing

#endif  // COHORT_TESTS_CHAOS_SLOW_DISK_H_
