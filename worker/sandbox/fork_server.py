# cohort Python fork server (fork_server.h): runs inside a bwrap sandbox of
# its own, holding an interpreter with the preloaded modules imported. For
# each request it forks; the child enters fresh namespaces, gets a private
# /tmp, /task, /dev/shm, /dev/pts and /proc, a fresh user namespace with no
# capabilities, no_new_privs, the seccomp filter and the rlimits, and only
# then runs the program. This process never runs requested code itself.
#
# Descriptors: 3 = control socket to the host, 4 = seccomp BPF (read once).
# A request is one message carrying 4 descriptors: a memfd with the request
# (a JSON header line, then the files' bytes back to back), stdin, stdout
# and stderr. The reply, once the program's tree is gone, is one line
# "<wait status> <user CPU us> <system CPU us>\n".
import atexit, ctypes, fcntl, gc, json, os, resource, signal, socket, struct, sys, traceback, types

# argv: the modules to import, comma-separated; then a JSON object of
# modules built from source ({name: source}), e.g. a harness whose import
# has no side effects, so a program's fork only calls into it.
for _name in filter(None, sys.argv[1].split(",") if len(sys.argv) > 1 else []):
    __import__(_name)
for _name, _source in (json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}).items():
    _module = types.ModuleType(_name)
    _module.__file__ = "/task/%s.py" % _name
    exec(compile(_source, _module.__file__, "exec"), _module.__dict__)
    sys.modules[_name] = _module

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                       ctypes.c_char_p]
libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                       ctypes.c_ulong]
libc.syscall.restype = ctypes.c_long

CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC = 0x20000, 0x2000000, 0x4000000, 0x8000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_SECCOMP, PR_CAPBSET_DROP = 1, 4, 22, 24
PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 38, 47, 4
SECCOMP_MODE_FILTER = 2
SYS_CAPSET, SYS_CLOSE_RANGE = 126, 436  # x86_64
SETUP_FAILED = 125  # exit code of a child whose isolation could not be set up


class SetupError(Exception):
    pass


def check(rc, what):
    if rc != 0:
        err = ctypes.get_errno()
        raise SetupError("%s: %s" % (what, os.strerror(err)))


def mount(source, target, fstype, flags, data=None):
    check(libc.mount(source and source.encode(), target.encode(), fstype and fstype.encode(),
                     flags, data and data.encode()), "mount " + target)


def remount_read_only(path):
    # The mount's own flags (some are locked: nodev and the atime mode for
    # an unprivileged server) are kept; read-only is added.
    kept = os.statvfs(path).f_flag
    flags = MS_REMOUNT | MS_BIND | MS_RDONLY
    for st, ms in ((2, MS_NOSUID), (4, MS_NODEV), (8, MS_NOEXEC), (1024, 1024), (2048, 2048),
                   (4096, 1 << 21)):
        if kept & st:
            flags |= ms
    mount(None, path, None, flags)


def prctl(option, arg2=0, arg3=0):
    check(libc.prctl(option, arg2, arg3, 0, 0), "prctl %d" % option)


def write_file(path, text):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def close_from(first, keep=()):
    # Everything from `first` up, except `keep` (sorted), is closed.
    lo = first
    for fd in sorted(keep):
        if fd > lo:
            libc.syscall(SYS_CLOSE_RANGE, lo, fd - 1, 0)
        lo = max(lo, fd + 1)
    libc.syscall(SYS_CLOSE_RANGE, lo, 0xFFFFFFFF, 0)


def read_request(fd):
    data = bytearray()
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            break
        data += chunk
    header_end = data.index(b"\n")
    header = json.loads(data[:header_end])
    files, at = [], header_end + 1
    for name, size in header["files"]:
        files.append((name, bytes(data[at:at + size])))
        at += size
    return header, files


def loopback_up():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        ifreq = struct.pack("16sh22x", b"lo", 0)
        flags = struct.unpack("16sh22x", fcntl.ioctl(s.fileno(), 0x8913, ifreq))[1]
        fcntl.ioctl(s.fileno(), 0x8914, struct.pack("16sh22x", b"lo", flags | 1))
    finally:
        s.close()


def private_mounts(header, files):
    """In the new mount namespace: nothing propagates back to the server's;
    fresh /tmp, /dev/shm, /dev/pts and a read-only /task with the files;
    /dev itself read-only."""
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    size = "size=%d" % header["tmp_size"]
    mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755," + size)
    mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777," + size)
    mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
          "newinstance,ptmxmode=0666,mode=620")
    remount_read_only("/dev")
    mount("tmpfs", "/task", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
    for name, data in files:
        path = os.path.join("/task", name)
        if name.startswith("/") or ".." in name.split("/"):
            raise SetupError("bad file name " + name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    remount_read_only("/task")


def fresh_proc():
    # The new PID namespace's /proc, with the same read-only covers bwrap
    # puts over the parts that write to the kernel.
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for part in ("sys", "sysrq-trigger", "irq", "bus"):
        path = "/proc/" + part
        if os.path.exists(path):
            mount(path, path, None, MS_BIND | MS_REC)
            remount_read_only(path)


def drop_privileges(bpf):
    """A user namespace of its own (same uid/gid inside), every capability
    gone (bounding, ambient, effective, permitted, inheritable), no new
    privileges, then the seccomp filter."""
    uid, gid = os.getuid(), os.getgid()
    check(libc.unshare(CLONE_NEWUSER), "unshare user")
    write_file("/proc/self/setgroups", "deny")
    write_file("/proc/self/uid_map", "%d %d 1" % (uid, uid))
    write_file("/proc/self/gid_map", "%d %d 1" % (gid, gid))
    with open("/proc/sys/kernel/cap_last_cap") as f:
        last_cap = int(f.read())
    for cap in range(last_cap + 1):
        prctl(PR_CAPBSET_DROP, cap)
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (ctypes.c_uint32 * 6)()
    check(libc.syscall(SYS_CAPSET, header, data), "capset")
    prctl(PR_SET_NO_NEW_PRIVS, 1)

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]

    prog = SockFprog(len(bpf) // 8, bpf)
    check(libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(prog), 0, 0),
          "seccomp")


def apply_limits(limits):
    for name, value in limits.items():
        soft, hard = value if isinstance(value, list) else (value, value)
        which = getattr(resource, "RLIMIT_" + name.upper())
        ceiling = resource.getrlimit(which)[1]  # a hard limit can only go down
        if ceiling != resource.RLIM_INFINITY:
            soft, hard = min(soft, ceiling), min(hard, ceiling)
        resource.setrlimit(which, (soft, hard))


def exit_code_of(status):
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def run_program(header, stdio):
    """The program itself (not PID 1: PID 1 is its init, as under bwrap)."""
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    os.setsid()
    write_file("/proc/self/oom_score_adj", "1000")  # the OOM killer's first pick
    for target, fd in enumerate(stdio):
        os.dup2(fd, target)
    close_from(3)
    os.environ.clear()
    os.environ.update(header["env"])
    os.chdir(header["cwd"])
    apply_limits(header["rlimits"])
    argv = header["argv"]
    sys.argv = argv[3:]
    main = types.ModuleType("__main__")
    main.__file__ = sys.argv[0]
    main.__builtins__ = __builtins__
    sys.modules["__main__"] = main
    code = 0
    try:
        with open(sys.argv[0], "rb") as f:
            source = f.read()
        exec(compile(source, sys.argv[0], "exec"), main.__dict__)
    except SystemExit as e:
        code = e.code
    except BaseException:
        kind, value, trace = sys.exc_info()
        traceback.print_exception(kind, value, trace.tb_next)  # from the program's frame
        code = 1
    try:
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        pass
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    os._exit(code & 0xFF)


def init(header, stdio, bpf):
    """PID 1 of the program's namespace: reaps, exits with the program's
    status; its exit makes the kernel kill whatever is left in it."""
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    fresh_proc()
    drop_privileges(bpf)
    pid = os.fork()
    if pid == 0:
        try:
            run_program(header, stdio)
        except BaseException as e:
            os.write(stdio[2], ("sandbox setup: %s\n" % e).encode())
        os._exit(SETUP_FAILED)
    prctl(PR_SET_DUMPABLE, 0)
    for fd in stdio:
        os.close(fd)
    while True:
        reaped, status = os.wait()
        if reaped == pid:
            os._exit(exit_code_of(status))


def isolate_and_run(request_fd, stdio, bpf):
    """The per-program child: fresh mount, PID, network, IPC, UTS and cgroup
    namespaces; then PID 1 of the new PID namespace runs the program."""
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    # The server is not dumpable; its children must be, or their /proc/self
    # files (uid_map, setgroups) belong to root and an unprivileged server
    # could not write them. Programs never see this process.
    prctl(PR_SET_DUMPABLE, 1)
    close_from(3, [request_fd] + stdio)
    header, files = read_request(request_fd)
    os.close(request_fd)
    check(libc.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS |
                       CLONE_NEWCGROUP), "unshare")
    private_mounts(header, files)
    loopback_up()
    pid = os.fork()
    if pid == 0:
        try:
            init(header, stdio, bpf)
        except BaseException as e:
            os.write(stdio[2], ("sandbox setup: %s\n" % e).encode())
        os._exit(SETUP_FAILED)
    for fd in stdio:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    os._exit(exit_code_of(status))


def serve():
    control = socket.socket(fileno=3)
    with os.fdopen(4, "rb") as f:
        bpf = f.read()
    prctl(PR_SET_DUMPABLE, 0)
    # Everything loaded so far stays out of the collector's sight, so a
    # child's garbage collection does not touch (copy) the shared pages.
    gc.collect()
    gc.freeze()
    control.sendall(b"ready\n")
    while True:
        message, fds, _, _ = socket.recv_fds(control, 16, 4)
        if not message:
            return
        if len(fds) != 4:
            for fd in fds:
                os.close(fd)
            control.sendall(b"error\n")
            continue
        pid = os.fork()
        if pid == 0:
            try:
                isolate_and_run(fds[0], fds[1:], bpf)
            except BaseException as e:
                os.write(fds[3], ("sandbox setup: %s\n" % e).encode())
            os._exit(SETUP_FAILED)
        for fd in fds:
            os.close(fd)
        _, status, usage = os.wait4(pid, 0)
        control.sendall(b"%d %d %d\n" % (status, int(usage.ru_utime * 1e6),
                                         int(usage.ru_stime * 1e6)))


serve()
