#include "tests/chaos/slow_disk.h"

#include <errno.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace cohort::testing {
namespace {

namespace fs = std::filesystem;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Writes `text` to a cgroup control file (one write(2), as the kernel wants).
absl::Status WriteControl(const std::string& path, const std::string& text) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) {
    return absl::PermissionDeniedError(
        absl::StrCat(path, ": ", std::strerror(errno)));
  }
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  ok = std::fflush(f) == 0 && ok;
  int error = errno;
  std::fclose(f);
  if (!ok) {
    return absl::FailedPreconditionError(absl::StrCat(
        "writing '", text, "' to ", path, ": ", std::strerror(error)));
  }
  return absl::OkStatus();
}

// Where the v1 blkio hierarchy is mounted, from /proc/self/mountinfo.
absl::StatusOr<std::string> BlkioMount() {
  std::ifstream in("/proc/self/mountinfo");
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> halves = absl::StrSplit(line, " - ");
    if (halves.size() != 2) continue;
    std::vector<std::string> fields = absl::StrSplit(halves[0], ' ');
    std::vector<std::string> tail = absl::StrSplit(halves[1], ' ');
    if (fields.size() < 5 || tail.size() < 3 || tail[0] != "cgroup") continue;
    for (absl::string_view option : absl::StrSplit(tail[2], ',')) {
      if (option == "blkio") return fields[4];
    }
  }
  return absl::UnavailableError(
      "no cgroup v1 blkio hierarchy is mounted (cgroup v2 only?)");
}

// This process's group in the blkio hierarchy, from /proc/self/cgroup.
std::string OwnBlkioGroup() {
  std::ifstream in("/proc/self/cgroup");
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> parts =
        absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (parts.size() != 3) continue;
    for (absl::string_view controller : absl::StrSplit(parts[1], ',')) {
      if (controller == "blkio") return parts[2];
    }
  }
  return "/";
}

// "major:minor" of the whole disk holding `folder` (blk-throttle takes
// disks, not partitions).
absl::StatusOr<std::string> DiskOf(const std::string& folder) {
  struct stat st;
  if (stat(folder.c_str(), &st) != 0) {
    return absl::NotFoundError(
        absl::StrCat(folder, ": ", std::strerror(errno)));
  }
  std::string dev = absl::StrCat(major(st.st_dev), ":", minor(st.st_dev));
  std::error_code ec;
  fs::path sys = fs::canonical("/sys/dev/block/" + dev, ec);
  if (ec) {
    return absl::FailedPreconditionError(absl::StrCat(
        folder, " is on device ", dev,
        ", which is no block device (tmpfs, overlay or a network filesystem): "
        "a block-layer throttle cannot slow it"));
  }
  if (fs::exists(sys / "partition")) {
    dev = std::string(absl::StripAsciiWhitespace(
        ReadAll((sys.parent_path() / "dev").string())));
  }
  return dev;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SlowDisk>> SlowDisk::Create(
    const std::string& folder, const std::string& name, const Limits& limits) {
  absl::StatusOr<std::string> device = DiskOf(folder);
  if (!device.ok()) return device.status();
  absl::StatusOr<std::string> mount = BlkioMount();
  if (!mount.ok()) return mount.status();
  std::string parent =
      (fs::path(*mount) / fs::path(OwnBlkioGroup()).relative_path()).string();
  if (!fs::exists(fs::path(parent) / "blkio.throttle.write_iops_device")) {
    return absl::UnavailableError(absl::StrCat(
        parent, " has no blkio.throttle files (kernel without blk-throttle?)"));
  }
  std::string group = (fs::path(parent) / name).string();
  if (mkdir(group.c_str(), 0755) != 0) {
    return absl::PermissionDeniedError(absl::StrCat(
        "cannot create blkio group ", group, ": ", std::strerror(errno)));
  }
  std::unique_ptr<SlowDisk> disk(new SlowDisk(group, parent, *device));
  const std::pair<const char*, uint64_t> settings[] = {
      {"blkio.throttle.read_bps_device", limits.read_bps},
      {"blkio.throttle.write_bps_device", limits.write_bps},
      {"blkio.throttle.read_iops_device", limits.read_iops},
      {"blkio.throttle.write_iops_device", limits.write_iops}};
  for (const auto& [file, value] : settings) {
    if (value == 0) continue;
    if (absl::Status s =
            WriteControl(group + "/" + file, absl::StrCat(*device, " ", value));
        !s.ok()) {
      return s;  // the destructor removes the group
    }
  }
  return disk;
}

SlowDisk::~SlowDisk() {
  // Children started inside the group are in it too: move everything back,
  // then remove the (empty) group. A process may be exiting meanwhile, so
  // retry briefly.
  for (int attempt = 0; attempt < 50; ++attempt) {
    std::istringstream procs(ReadAll(group_ + "/cgroup.procs"));
    for (std::string pid; procs >> pid;) {
      (void)WriteControl(parent_ + "/cgroup.procs", pid);
    }
    if (rmdir(group_.c_str()) == 0 || errno == ENOENT) return;
    absl::SleepFor(absl::Milliseconds(20));
  }
}

absl::Status SlowDisk::Add(pid_t pid) {
  return WriteControl(group_ + "/cgroup.procs", std::to_string(pid));
}

uint64_t SlowDisk::Serviced(const std::string& op) const {
  // Lines: "<major:minor> <Read|Write|Sync|Async|Discard|Total> <count>".
  std::istringstream lines(ReadAll(group_ + "/blkio.throttle.io_serviced"));
  uint64_t total = 0;
  for (std::string line; std::getline(lines, line);) {
    std::vector<std::string> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    uint64_t n = 0;
    if (f.size() == 3 && f[0] == device_ && f[1] == op &&
        absl::SimpleAtoi(f[2], &n))
      total += n;
  }
  return total;
}

}  // namespace cohort::testing
