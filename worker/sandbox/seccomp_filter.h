// File: seccomp_filter.h
//
// The seccomp-bpf program every sandboxed process runs under, compiled with
// libseccomp for the native architecture. Default action: allow. Refused
// with EPERM: kernel-attack-surface and escape calls (ptrace and
// process_vm_*, mount and the new mount API, pivot_root, chroot, unshare,
// setns, clone/clone3 with namespace flags (clone3 answers ENOSYS so libc
// falls back to clone, whose flags the filter can read), bpf,
// perf_event_open, keyctl family, userfaultfd, io_uring, module loading,
// kexec, reboot, swap, clock setting, open_by_handle_at, acct, quotactl,
// iopl/ioperm, syslog, hostname changes). socket() is allowed only for
// AF_UNIX, AF_INET and AF_INET6 (the network namespace holds nothing but
// loopback); other families answer EAFNOSUPPORT. System calls of a foreign
// architecture (i386, x32) kill the process.
#ifndef COHORT_WORKER_SANDBOX_SECCOMP_FILTER_H_
#define COHORT_WORKER_SANDBOX_SECCOMP_FILTER_H_

#include <string>

#include "absl/status/statusor.h"

namespace cohort::worker::sandbox {

// The filter as a raw BPF program (struct sock_filter[]), the format
// `bwrap --seccomp FD` loads. Built once per process; thread-safe.
absl::StatusOr<std::string> SeccompBpf();

}  // namespace cohort::worker::sandbox

#endif  // COHORT_WORKER_SANDBOX_SECCOMP_FILTER_H_
