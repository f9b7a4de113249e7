#include "worker/sandbox/seccomp_filter.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "common/errno_status.h"
#include "common/status_macros.h"

namespace cohort::worker::sandbox {
namespace {

// Escape and kernel-attack-surface calls; none is needed by an interpreter,
// a compiler or a test program.
constexpr const char* kDenied[] = {
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    "mount", "umount2", "pivot_root", "chroot", "fsopen", "fsconfig", "fsmount",
    "fspick", "move_mount", "open_tree", "mount_setattr", "unshare", "setns",
    "bpf", "perf_event_open", "keyctl", "add_key", "request_key", "userfaultfd",
    "io_uring_setup", "io_uring_enter", "io_uring_register", "init_module",
    "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot",
    "swapon", "swapoff", "settimeofday", "clock_settime", "clock_adjtime",
    "adjtimex", "open_by_handle_at", "name_to_handle_at", "acct", "quotactl",
    "iopl", "ioperm", "syslog", "lookup_dcookie", "vhangup", "fanotify_init",
    "sethostname", "setdomainname", "personality",
};

constexpr uint64_t kNamespaceFlags[] = {CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWPID,
                                        CLONE_NEWNET,  CLONE_NEWIPC, CLONE_NEWUTS,
                                        CLONE_NEWCGROUP};

struct CtxDeleter {
  void operator()(void* ctx) const { seccomp_release(static_cast<scmp_filter_ctx>(ctx)); }
};

absl::Status Check(int rc, absl::string_view what) {
  if (rc == 0) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("seccomp: ", what, " failed: errno ", -rc));
}

absl::Status Deny(scmp_filter_ctx ctx, int errno_value, int nr, unsigned count,
                  scmp_arg_cmp cmp, absl::string_view what) {
  int rc = count == 0 ? seccomp_rule_add(ctx, SCMP_ACT_ERRNO(errno_value), nr, 0)
                      : seccomp_rule_add(ctx, SCMP_ACT_ERRNO(errno_value), nr, 1, cmp);
  return Check(rc, what);
}

absl::Status AddRules(scmp_filter_ctx ctx) {
  const scmp_arg_cmp none = SCMP_A0(SCMP_CMP_EQ, 0);
  for (const char* name : kDenied) {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) continue;  // not on this architecture
    COHORT_RETURN_IF_ERROR(Deny(ctx, EPERM, nr, 0, none, name));
  }
  // clone's first argument holds the flags; one rule per flag ("any of").
  for (uint64_t flag : kNamespaceFlags) {
    COHORT_RETURN_IF_ERROR(Deny(ctx, EPERM, SCMP_SYS(clone), 1,
                                SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag), "clone"));
  }
  // clone3 passes its flags in memory the filter cannot read.
  COHORT_RETURN_IF_ERROR(Deny(ctx, ENOSYS, SCMP_SYS(clone3), 0, none, "clone3"));
  // Socket families other than AF_UNIX (1), AF_INET (2) and AF_INET6 (10).
  COHORT_RETURN_IF_ERROR(Deny(ctx, EAFNOSUPPORT, SCMP_SYS(socket), 1,
                              SCMP_A0(SCMP_CMP_GT, AF_INET6), "socket"));
  for (scmp_datum_t family : {0, 3, 4, 5, 6, 7, 8, 9}) {
    COHORT_RETURN_IF_ERROR(Deny(ctx, EAFNOSUPPORT, SCMP_SYS(socket), 1,
                                SCMP_A0(SCMP_CMP_EQ, family), "socket"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Export(scmp_filter_ctx ctx) {
  int fd = memfd_create("cohort-seccomp", MFD_CLOEXEC);
  if (fd < 0) return ErrnoToStatus(errno, "seccomp: memfd_create");
  std::string bpf;
  absl::Status status = Check(seccomp_export_bpf(ctx, fd), "export");
  if (status.ok() && lseek(fd, 0, SEEK_SET) == 0) {
    char buffer[4096];
    ssize_t n;
    while ((n = read(fd, buffer, sizeof(buffer))) > 0) bpf.append(buffer, n);
  }
  close(fd);
  if (!status.ok()) return status;
  if (bpf.empty()) return absl::InternalError("seccomp: empty BPF program");
  return bpf;
}

absl::StatusOr<std::string> Build() {
  std::unique_ptr<void, CtxDeleter> ctx(seccomp_init(SCMP_ACT_ALLOW));
  if (ctx == nullptr) return absl::InternalError("seccomp: seccomp_init failed");
  auto* raw = static_cast<scmp_filter_ctx>(ctx.get());
  // Foreign-ABI calls bypass a native-only rule set; kill instead.
  COHORT_RETURN_IF_ERROR(
      Check(seccomp_attr_set(raw, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS), "badarch"));
  COHORT_RETURN_IF_ERROR(AddRules(raw));
  return Export(raw);
}

}  // namespace

absl::StatusOr<std::string> SeccompBpf() {
  static const auto* bpf = new absl::StatusOr<std::string>(Build());
  return *bpf;
}

}  // namespace cohort::worker::sandbox
