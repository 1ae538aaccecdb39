"""lamina's default seccomp profile: Docker's, stated as facts and built in code.

What a container may call, and nothing else (everything else fails with EPERM):
- the syscalls in `ALLOWED`, everywhere;
- those in `BY_ARCH` on the architectures that have them, and those in `BY_CAPABILITY`
  when the container holds the capability;
- `ptrace` and `process_vm_*` from kernel 4.8 on (earlier a tracer could rewrite a
  syscall after seccomp had checked it);
- `personality` only for the harmless `PERSONAS`;
- `socket` for every address family but `AF_ALG` and `AF_VSOCK`;
- without CAP_SYS_ADMIN, `clone` only without `NAMESPACE_FLAGS` (no user namespace, so
  no way to gain capabilities), and `clone3` fails with ENOSYS, because seccomp cannot
  read its flags (they are behind a pointer) and libc falls back to `clone` on ENOSYS.

This is the profile dockerd applies by default (moby/profiles seccomp v0.2.3, Docker
29.5 on), rule for rule. It is built in Docker's profile format, conditions included,
so `seccomp_from_profile` treats it exactly as it treats a user's profile, and the file
written from it (`default.json`, `python -m lamina.runtime.seccomp`) is a starting
point for `--security-opt seccomp=<file>` that Docker reads too.

Names the host's libseccomp does not know (syscalls newer than it) are skipped by runc.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lamina.runtime.seccomp.convert import seccomp_from_profile

ALLOW = "SCMP_ACT_ALLOW"
ERRNO = "SCMP_ACT_ERRNO"
EPERM, ENOSYS = 1, 38  # asm-generic/errno-base.h, errno.h

# linux/socket.h: the kernel's crypto API (https://copy.fail/) and the sockets between a
# virtual machine and its host.
AF_ALG, AF_VSOCK = 38, 40
# linux/sched.h: the clone(2) flags that make new namespaces.
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
NAMESPACE_FLAGS = (
    CLONE_NEWNS
    | CLONE_NEWCGROUP
    | CLONE_NEWUTS
    | CLONE_NEWIPC
    | CLONE_NEWUSER
    | CLONE_NEWPID
    | CLONE_NEWNET
)
# personality(2): PER_LINUX, PER_LINUX32, UNAME26 with each, and 0xffffffff (a query).
PERSONAS = (0x0, 0x0008, 0x20000, 0x20008, 0xFFFFFFFF)


def _names(text: str) -> tuple[str, ...]:
    return tuple(text.split())


ALLOWED = _names("""
    _llseek _newselect accept accept4 access adjtimex alarm bind brk cachestat capget
    capset chdir chmod chown chown32 clock_adjtime clock_adjtime64 clock_getres
    clock_getres_time64 clock_gettime clock_gettime64 clock_nanosleep
    clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2 dup3
    epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2
    epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit exit_group faccessat
    faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir fchmod fchmodat
    fchmodat2 fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr flock
    fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate
    ftruncate64 futex futex_requeue futex_time64 futex_wait futex_waitv futex_wake
    futimesat get_robust_list get_thread_area getcpu getcwd getdents getdents64 getegid
    getegid32 geteuid geteuid32 getgid getgid32 getgroups getgroups32 getitimer
    getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid
    getresgid32 getresuid getresuid32 getrlimit getrusage getsid getsockname getsockopt
    gettid gettimeofday getuid getuid32 getxattr getxattrat inotify_add_watch
    inotify_init inotify_init1 inotify_rm_watch io_cancel io_destroy io_getevents
    io_pgetevents io_pgetevents_time64 io_setup io_submit ioctl ioprio_get ioprio_set
    ipc kill landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown
    lchown32 lgetxattr link linkat listen listmount listxattr listxattrat llistxattr
    lremovexattr lseek lsetxattr lstat lstat64 madvise map_shadow_stack membarrier
    memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall
    mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive
    mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap mseal
    msgctl msgget msgrcv msgsnd msync munlock munlockall munmap name_to_handle_at
    nanosleep newfstatat open openat openat2 pause pidfd_open pidfd_send_signal pipe
    pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv
    preadv2 prlimit64 process_mrelease pselect6 pselect6_time64 pwrite64 pwritev pwritev2
    read readahead readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64
    recvmsg remap_file_pages removexattr removexattrat rename renameat renameat2
    restart_syscall riscv_hwprobe rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask
    rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64
    rt_tgsigqueueinfo sched_get_priority_max sched_get_priority_min sched_getaffinity
    sched_getattr sched_getparam sched_getscheduler sched_rr_get_interval
    sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam
    sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop
    semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto set_robust_list
    set_thread_area set_tid_address setfsgid setfsgid32 setfsuid setfsuid32 setgid
    setgid32 setgroups setgroups32 setitimer setpgid setpriority setregid setregid32
    setresgid setresgid32 setresuid setresuid32 setreuid setreuid32 setrlimit setsid
    setsockopt setuid setuid32 setxattr setxattrat shmat shmctl shmdt shmget shutdown
    sigaltstack signalfd signalfd4 sigprocmask sigreturn socketcall socketpair splice
    stat stat64 statfs statfs64 statmount statx symlink symlinkat sync sync_file_range
    syncfs sysinfo tee tgkill time timer_create timer_delete timer_getoverrun
    timer_gettime timer_gettime64 timer_settime timer_settime64 timerfd_create
    timerfd_gettime timerfd_gettime64 timerfd_settime timerfd_settime64 times tkill
    truncate truncate64 ugetrlimit umask uname unlink unlinkat uretprobe utime utimensat
    utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev
""")
PTRACE_FROM_4_8 = _names("process_vm_readv process_vm_writev ptrace")

# Architecture-specific calls, keyed by the architectures (Docker's names) that have them.
BY_ARCH: dict[tuple[str, ...], tuple[str, ...]] = {
    ("ppc64le",): _names("sync_file_range2 swapcontext"),
    ("arm", "arm64"): _names(
        "arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls"
    ),
    ("amd64", "x32"): _names("arch_prctl"),
    ("amd64", "x32", "x86"): _names("modify_ldt"),
    ("s390", "s390x"): _names("s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr"),
    ("riscv64",): _names("riscv_flush_icache"),
}

# What each capability lets a container call besides ALLOWED. CAP_SYS_ADMIN's list holds
# every namespace and mount call: mount, umount2, setns, unshare, the new mount API.
# pivot_root, keyctl, add_key and request_key are in no list: never allowed.
BY_CAPABILITY: dict[str, tuple[str, ...]] = {
    "CAP_DAC_READ_SEARCH": _names("open_by_handle_at"),
    "CAP_SYS_ADMIN": _names("""
        bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie
        lsm_get_self_attr lsm_list_modules lsm_set_self_attr mount mount_setattr
        move_mount open_tree perf_event_open quotactl quotactl_fd setdomainname
        sethostname setns syslog umount umount2 unshare
    """),
    "CAP_SYS_BOOT": _names("reboot"),
    "CAP_SYS_CHROOT": _names("chroot"),
    "CAP_SYS_MODULE": _names("delete_module init_module finit_module"),
    "CAP_SYS_PACCT": _names("acct"),
    "CAP_SYS_PTRACE": _names(
        "kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace"
    ),
    "CAP_SYS_RAWIO": _names("iopl ioperm"),
    "CAP_SYS_TIME": _names("settimeofday stime clock_settime clock_settime64"),
    "CAP_SYS_TTY_CONFIG": _names("vhangup"),
    "CAP_SYS_NICE": _names("get_mempolicy mbind set_mempolicy set_mempolicy_home_node"),
    "CAP_SYSLOG": _names("syslog"),
    "CAP_BPF": _names("bpf"),
    "CAP_PERFMON": _names("perf_event_open"),
}

# Each native architecture with the others its kernel runs (compat ABIs).
ARCH_MAP: dict[str, tuple[str, ...]] = {
    "SCMP_ARCH_X86_64": ("SCMP_ARCH_X86", "SCMP_ARCH_X32"),
    "SCMP_ARCH_AARCH64": ("SCMP_ARCH_ARM",),
    "SCMP_ARCH_MIPS64": ("SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64N32"),
    "SCMP_ARCH_MIPS64N32": ("SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64"),
    "SCMP_ARCH_MIPSEL64": ("SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64N32"),
    "SCMP_ARCH_MIPSEL64N32": ("SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64"),
    "SCMP_ARCH_S390X": ("SCMP_ARCH_S390",),
    "SCMP_ARCH_RISCV64": (),
    "SCMP_ARCH_LOONGARCH64": (),
}


@dataclass(frozen=True)
class Arg:
    """A condition on a syscall argument (OCI `LinuxSeccompArg`)."""

    index: int
    value: int
    op: str

    def as_profile(self) -> dict[str, Any]:
        return {"index": self.index, "value": self.value, "op": self.op}


@dataclass(frozen=True)
class Rule:
    """`names` get `action` (when every `args` condition holds) where the rule applies:
    with all of `caps`, on one of `arches`, from `min_kernel` on, and neither with any
    of `unless_caps` nor on one of `unless_arches` (Docker's includes/excludes)."""

    names: tuple[str, ...]
    action: str = ALLOW
    errno: int | None = None
    args: tuple[Arg, ...] = ()
    caps: tuple[str, ...] = ()
    arches: tuple[str, ...] = ()
    min_kernel: str = ""
    unless_caps: tuple[str, ...] = ()
    unless_arches: tuple[str, ...] = ()
    comment: str = ""

    def as_profile(self) -> dict[str, Any]:
        """This rule in Docker's profile format."""
        out: dict[str, Any] = {"names": list(self.names), "action": self.action}
        if self.errno is not None:
            out["errnoRet"] = self.errno
        if self.args:
            out["args"] = [arg.as_profile() for arg in self.args]
        if self.comment:
            out["comment"] = self.comment
        if includes := _filter(self.caps, self.arches, self.min_kernel):
            out["includes"] = includes
        if excludes := _filter(self.unless_caps, self.unless_arches, ""):
            out["excludes"] = excludes
        return out


def _filter(caps: tuple[str, ...], arches: tuple[str, ...], min_kernel: str) -> dict[str, Any]:
    found = {"caps": list(caps), "arches": list(arches), "minKernel": min_kernel}
    return {key: value for key, value in found.items() if value}


def _socket_rules() -> tuple[Rule, ...]:
    # Conditions in one rule are ANDed, so "neither 38 nor 40" cannot be one rule: three
    # ranges that leave out exactly AF_ALG and AF_VSOCK (one family lies between them).
    ranges = (
        Arg(0, AF_ALG, "SCMP_CMP_LT"),
        Arg(0, AF_ALG + 1, "SCMP_CMP_EQ"),
        Arg(0, AF_VSOCK, "SCMP_CMP_GT"),
    )
    return tuple(Rule(("socket",), args=(arg,)) for arg in ranges)


def _clone_rules() -> tuple[Rule, ...]:
    admin = ("CAP_SYS_ADMIN",)
    s390 = ("s390", "s390x")
    no_namespaces = "SCMP_CMP_MASKED_EQ"
    return (
        Rule(
            ("clone",),
            args=(Arg(0, NAMESPACE_FLAGS, no_namespaces),),
            unless_caps=admin,
            unless_arches=s390,
        ),
        Rule(
            ("clone",),
            args=(Arg(1, NAMESPACE_FLAGS, no_namespaces),),
            arches=s390,
            unless_caps=admin,
            comment="s390 parameter ordering for clone is different",
        ),
        Rule(("clone3",), action=ERRNO, errno=ENOSYS, unless_caps=admin),
    )


def default_rules() -> tuple[Rule, ...]:
    """Every rule of the default profile, the unconditional allow list first."""
    return (
        Rule(ALLOWED),
        Rule(PTRACE_FROM_4_8, min_kernel="4.8"),
        *_socket_rules(),
        *(Rule(("personality",), args=(Arg(0, p, "SCMP_CMP_EQ"),)) for p in PERSONAS),
        *(Rule(names, arches=arches) for arches, names in BY_ARCH.items()),
        *(Rule(names, caps=(cap,)) for cap, names in BY_CAPABILITY.items()),
        *_clone_rules(),
    )


def default_profile() -> dict[str, Any]:
    """The default profile in Docker's format (conditions unresolved): a new dict."""
    return {
        "defaultAction": ERRNO,
        "defaultErrnoRet": EPERM,
        "archMap": [
            {"architecture": arch, "subArchitectures": list(subs)}
            for arch, subs in ARCH_MAP.items()
        ],
        "syscalls": [rule.as_profile() for rule in default_rules()],
    }


PROFILE_FILE = Path(__file__).with_name("default.json")


def profile_json() -> str:
    """The text of `default.json`: what `python -m lamina.runtime.seccomp` writes."""
    return json.dumps(default_profile(), indent=1) + "\n"


def default_seccomp(
    caps: Sequence[str], *, machine: str | None = None, kernel: tuple[int, int] | None = None
) -> dict[str, Any]:
    """The default profile as OCI `linux.seccomp` for a container whose bounding set is
    `caps`, on this host (or the `machine` and `kernel` given)."""
    converted = seccomp_from_profile(default_profile(), caps, machine=machine, kernel=kernel)
    assert converted is not None, "the default profile has a default action"
    return converted
