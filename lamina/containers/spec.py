"""The OCI runtime spec (config.json) a container runs with, built as Docker builds it.

`build_spec(SpecInput)` returns the config.json as a dict. It mounts and runs nothing:
it reads the image's /etc/passwd and /etc/group (to resolve the user), the seccomp
profile, and a few host facts (`HostFacts`: which capabilities this process can grant,
whether cgroups are v2-only, which sysctls exist). The caller writes the dict into a
bundle and hands it to the runtime.

What Docker does and where it lives here:
  - defaults (moby oci/defaults.go): mounts, masked/readonly paths, namespaces, the
    devices cgroup — `default_mounts`, `security.MASKED_PATHS`, `security.DEVICE_RULES`;
  - daemon/oci_linux.go: user mounts replace defaults at the same destination, a
    read-only rootfs makes the other default mounts read-only, --privileged unmasks
    everything, --init binds the init at /sbin/docker-init, resources, sysctls.
Docker 25+ puts no rlimits in the spec (containers inherit the daemon's), so neither do
we unless asked (`SpecInput.rlimits`, for --ulimit).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from lamina.containers import seccomp, security
from lamina.containers.users import resolve_user
from lamina.errors import InvalidArgument

OCI_VERSION = "1.1.0"  # the runtime-spec Docker 25+ writes; runc 1.1 reads it
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
INIT_PATH = "/sbin/docker-init"
CPU_PERIOD = 100_000  # µs; --cpus becomes a CFS quota over this period, as Docker
MIN_MEMORY = 6 * 1024 * 1024

# Defaults Docker sets whenever a container gets its own network namespace.
DEFAULT_SYSCTLS: Mapping[str, str] = {
    "net.ipv4.ping_group_range": "0 2147483647",  # ping without CAP_NET_RAW
    "net.ipv4.ip_unprivileged_port_start": "0",  # ports < 1024 without NET_BIND_SERVICE
}
# Default mounts a read-only rootfs leaves writable (they are not the image's files).
_WRITABLE_WHEN_READONLY = frozenset({"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue"})


@dataclass(frozen=True)
class MountSpec:
    """One OCI mount: volumes, binds, tmpfs, /etc/hosts and the like."""

    destination: str
    type: str
    source: str
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class Resources:
    memory: int | None = None  # bytes (--memory)
    memory_swap: int | None = None  # bytes of memory+swap; -1 = unlimited
    nano_cpus: int | None = None  # --cpus 1.5 → 1_500_000_000
    cpu_shares: int | None = None
    pids_limit: int | None = None  # <= 0 = unlimited


@dataclass(frozen=True)
class Rlimit:
    type: str  # "RLIMIT_NOFILE" or "nofile"
    soft: int
    hard: int


@dataclass(frozen=True)
class SpecInput:
    """What a container runs with. `rootfs` should be absolute: it is both read (for the
    user's passwd and group entries) and written as `root.path`."""

    args: list[str]  # final argv (ENTRYPOINT + CMD already combined)
    env: list[str]
    cwd: str = "/"
    user: str = ""  # "", "name", "uid", "uid:gid", "name:group" — resolved in the rootfs
    rootfs: Path = Path("rootfs")
    hostname: str = ""
    terminal: bool = False
    readonly_rootfs: bool = False
    mounts: tuple[MountSpec, ...] = ()
    resources: Resources = Resources()
    privileged: bool = False
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    no_new_privileges: bool = False
    # "builtin" (lamina's default profile, Docker's) | "unconfined" | inline JSON (what the
    # docker CLI sends for seccomp=<file>) | a profile's path on this host
    seccomp: str = "builtin"
    netns: str | None = None  # a network namespace to join; None → a new one
    host_network: bool = False  # --network host: no network namespace at all
    cgroups_path: str = ""
    init: str | None = None  # host path of an init binary (tini-static)
    annotations: Mapping[str, str] = field(default_factory=dict)
    oom_score_adj: int | None = None
    shm_size: int = 64 * 1024 * 1024
    sysctls: Mapping[str, str] = field(default_factory=dict)  # --sysctl, over the defaults
    rlimits: tuple[Rlimit, ...] = ()  # --ulimit


@dataclass(frozen=True)
class HostFacts:
    """What `build_spec` needs to know about the machine; tests pass their own."""

    capabilities: tuple[str, ...]  # what this process can grant a container
    cgroup_unified: bool  # cgroup v2 only (not v1, not hybrid)
    sysctls: frozenset[str]  # which of DEFAULT_SYSCTLS this kernel has
    cpus: int

    @classmethod
    def probe(cls) -> HostFacts:
        return cls(
            capabilities=security.host_capabilities(),
            cgroup_unified=Path("/sys/fs/cgroup/cgroup.controllers").exists(),
            sysctls=frozenset(
                name for name in DEFAULT_SYSCTLS if Path("/proc/sys", *name.split(".")).exists()
            ),
            cpus=len(os.sched_getaffinity(0)),
        )


def build_spec(inp: SpecInput, *, host: HostFacts | None = None) -> dict[str, Any]:
    """The config.json for `inp`. Raises InvalidArgument for bad user input."""
    host = host or HostFacts.probe()
    caps = _capabilities(inp, host)
    spec: dict[str, Any] = {
        "ociVersion": OCI_VERSION,
        "process": _process(inp, caps),
        "root": {"path": str(inp.rootfs), "readonly": inp.readonly_rootfs},
        "mounts": _mounts(inp),
        "linux": _linux(inp, caps, host),
    }
    if inp.hostname:
        spec["hostname"] = inp.hostname
    if inp.annotations:
        spec["annotations"] = dict(inp.annotations)
    return spec


def build_process(inp: SpecInput, *, host: HostFacts | None = None) -> dict[str, Any]:
    """Only config.json's `process` (for `runc exec --process`); leave `init` unset for exec."""
    return _process(inp, _capabilities(inp, host or HostFacts.probe()))


# --- process --------------------------------------------------------------------------


def _capabilities(inp: SpecInput, host: HostFacts) -> list[str]:
    return security.capabilities(
        privileged=inp.privileged, add=inp.cap_add, drop=inp.cap_drop, available=host.capabilities
    )


def process_env(env: Sequence[str], *, hostname: str, terminal: bool) -> list[str]:
    """Docker's PATH/HOSTNAME/TERM defaults, replaced by `env`; "KEY" alone unsets KEY."""
    merged = {"PATH": DEFAULT_PATH}
    if hostname:
        merged["HOSTNAME"] = hostname
    if terminal:
        merged["TERM"] = "xterm"
    for entry in env:
        key, sep, value = entry.partition("=")
        if sep:
            merged[key] = value
        else:
            merged.pop(key, None)
    return [f"{k}={v}" for k, v in merged.items()]


def _process(inp: SpecInput, caps: list[str]) -> dict[str, Any]:
    if not inp.args:
        raise InvalidArgument("no command specified")
    if not inp.cwd.startswith("/"):
        raise InvalidArgument(
            f"the working directory '{inp.cwd}' is invalid, it needs to be an absolute path"
        )
    uid, gid, groups = resolve_user(inp.rootfs, inp.user)
    args = [INIT_PATH, "--", *inp.args] if inp.init else list(inp.args)
    process: dict[str, Any] = {
        "terminal": inp.terminal,
        "user": {"uid": uid, "gid": gid, "additionalGids": list(dict.fromkeys([gid, *groups]))},
        "args": args,
        "env": process_env(inp.env, hostname=inp.hostname, terminal=inp.terminal),
        "cwd": inp.cwd,
        # As Docker: a non-root process gets capabilities only in its bounding set, so
        # it holds none unless a file capability or setuid binary grants them (execve's
        # rules), rather than holding them until its first exec.
        "capabilities": (
            {"bounding": caps, "effective": caps, "permitted": caps}
            if uid == 0
            else {"bounding": caps}
        ),
        "noNewPrivileges": inp.no_new_privileges,
    }
    if inp.rlimits:
        process["rlimits"] = [_rlimit(r) for r in inp.rlimits]
    if inp.oom_score_adj is not None:
        process["oomScoreAdj"] = inp.oom_score_adj
    return process


def _rlimit(limit: Rlimit) -> dict[str, Any]:
    kind = limit.type.upper()
    kind = kind if kind.startswith("RLIMIT_") else "RLIMIT_" + kind
    if limit.soft > limit.hard or limit.soft < 0:
        raise InvalidArgument(
            f"ulimit soft limit must be less than hard limit: {limit.soft} > {limit.hard}"
        )
    return {"type": kind, "soft": limit.soft, "hard": limit.hard}


# --- mounts ---------------------------------------------------------------------------


# Docker's default mounts (moby oci/defaults.go): destination, type, source, options.
_DEFAULT_MOUNTS = (
    ("/proc", "proc", "proc", "nosuid,noexec,nodev"),
    ("/dev", "tmpfs", "tmpfs", "nosuid,strictatime,mode=755,size=65536k"),
    ("/dev/pts", "devpts", "devpts", "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5"),
    ("/sys", "sysfs", "sysfs", "nosuid,noexec,nodev,ro"),
    ("/sys/fs/cgroup", "cgroup", "cgroup", "ro,nosuid,noexec,nodev"),
    ("/dev/mqueue", "mqueue", "mqueue", "nosuid,noexec,nodev"),
    ("/dev/shm", "tmpfs", "shm", "nosuid,noexec,nodev,mode=1777"),
)


def default_mounts(shm_size: int) -> list[dict[str, Any]]:
    """Docker's default mounts, /dev/shm sized from --shm-size (in bytes)."""
    mounts = []
    for dest, kind, source, options in _DEFAULT_MOUNTS:
        opts = options.split(",") + ([f"size={shm_size}"] if dest == "/dev/shm" else [])
        mounts.append({"destination": dest, "type": kind, "source": source, "options": opts})
    return mounts


def _user_mounts(mounts: Sequence[MountSpec]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for m in mounts:
        if not m.destination.startswith("/"):
            raise InvalidArgument(f"invalid mount path: '{m.destination}' must be absolute")
        dest = str(PurePosixPath(m.destination))
        if any(seen["destination"] == dest for seen in out):
            raise InvalidArgument(f"Duplicate mount point: {dest}")
        out.append(
            {"destination": dest, "type": m.type, "source": m.source, "options": list(m.options)}
        )
    return out


def _mounts(inp: SpecInput) -> list[dict[str, Any]]:
    user = _user_mounts(inp.mounts)
    taken = {m["destination"] for m in user}
    mounts = []
    for m in default_mounts(inp.shm_size):
        dest = m["destination"]
        if dest in taken or ("/dev" in taken and dest.startswith("/dev/")):
            continue  # the user's mount replaces the default (all of /dev's, for /dev)
        if inp.privileged and m["type"] in ("sysfs", "cgroup"):
            m["options"] = [o for o in m["options"] if o != "ro"]
        elif inp.readonly_rootfs and dest not in _WRITABLE_WHEN_READONLY:
            m["options"] = list(dict.fromkeys([*m["options"], "ro"]))
        mounts.append(m)
    mounts.extend(user)
    if inp.init and INIT_PATH not in taken:
        init = {"destination": INIT_PATH, "type": "bind", "source": inp.init}
        mounts.append(init | {"options": ["bind", "ro"]})
    # Parents before children: a stable sort by depth keeps Docker's order within a depth.
    return sorted(mounts, key=lambda m: len(PurePosixPath(m["destination"]).parts))


def _rootfs_propagation(mounts: Sequence[MountSpec]) -> str | None:
    """A shared (or slave) bind needs the rootfs to propagate too, as Docker arranges."""
    options = {o for m in mounts for o in m.options}
    if options & {"shared", "rshared"}:
        return "shared"
    if options & {"slave", "rslave"}:
        return "rslave"
    return None


# --- linux ----------------------------------------------------------------------------


def _namespaces(inp: SpecInput, host: HostFacts) -> list[dict[str, str]]:
    namespaces: list[dict[str, str]] = [{"type": "mount"}]
    if not inp.host_network:
        namespaces.append(
            {"type": "network", "path": inp.netns} if inp.netns else {"type": "network"}
        )
    namespaces += [{"type": "uts"}, {"type": "pid"}, {"type": "ipc"}]
    if host.cgroup_unified:
        # Docker's default cgroupns mode is "private" on v2 and "host" on v1/hybrid,
        # where a cgroup namespace would hide nothing the v1 mounts do not show anyway.
        namespaces.append({"type": "cgroup"})
    return namespaces


def _check_resources(r: Resources, cpus: int) -> None:
    """Docker's checks (daemon/daemon_unix.go), with Docker's messages."""
    if r.memory and r.memory < MIN_MEMORY:
        raise InvalidArgument("Minimum memory limit allowed is 6MB")
    if r.memory_swap and r.memory_swap > 0:
        if not r.memory:
            raise InvalidArgument(
                "You should always set the Memory limit when using Memoryswap limit, see usage"
            )
        if r.memory_swap < r.memory:
            raise InvalidArgument(
                "Minimum memoryswap limit should be larger than memory limit, see usage"
            )
    if r.nano_cpus and not 10_000_000 <= r.nano_cpus <= cpus * 1_000_000_000:
        raise InvalidArgument(
            f"Range of CPUs is from 0.01 to {cpus}.00, as there are only {cpus} CPUs available"
        )
    if r.cpu_shares is not None and r.cpu_shares < 0:
        raise InvalidArgument(
            f"invalid CPU shares ({r.cpu_shares}): value must be a positive integer"
        )


def _resources(inp: SpecInput, host: HostFacts) -> dict[str, Any]:
    r = inp.resources
    _check_resources(r, host.cpus)
    rules = security.PRIVILEGED_DEVICE_RULES if inp.privileged else security.DEVICE_RULES
    out: dict[str, Any] = {"devices": [dict(rule) for rule in rules]}
    memory = {"limit": r.memory} if r.memory else {}
    if r.memory_swap:
        memory["swap"] = r.memory_swap
    cpu = {"shares": r.cpu_shares} if r.cpu_shares else {}
    if r.nano_cpus:
        cpu |= {"quota": r.nano_cpus * CPU_PERIOD // 1_000_000_000, "period": CPU_PERIOD}
    if memory:
        out["memory"] = memory
    if cpu:
        out["cpu"] = cpu
    if r.pids_limit is not None:
        # 0 and negatives mean "no limit" in Docker's API; runc wants -1 for that.
        out["pids"] = {"limit": r.pids_limit if r.pids_limit > 0 else -1}
    return out


def _seccomp(inp: SpecInput, caps: list[str]) -> dict[str, Any] | None:
    # As moby: conditions on capabilities are read against the bounding set (`caps`).
    if inp.privileged or inp.seccomp == "unconfined":
        return None
    if inp.seccomp == "builtin":
        return seccomp.default_seccomp(caps)
    if inp.seccomp.lstrip().startswith("{"):
        return seccomp.seccomp_from_json(inp.seccomp, caps)
    return seccomp.load_seccomp(Path(inp.seccomp), caps)


def _linux(inp: SpecInput, caps: list[str], host: HostFacts) -> dict[str, Any]:
    linux: dict[str, Any] = {
        "namespaces": _namespaces(inp, host),
        "maskedPaths": [] if inp.privileged else list(security.MASKED_PATHS),
        "readonlyPaths": [] if inp.privileged else list(security.READONLY_PATHS),
        "devices": security.host_devices() if inp.privileged else [],
        "resources": _resources(inp, host),
    }
    if inp.cgroups_path:
        linux["cgroupsPath"] = inp.cgroups_path
    sysctls = (
        {} if inp.host_network else {k: v for k, v in DEFAULT_SYSCTLS.items() if k in host.sysctls}
    )
    sysctls |= inp.sysctls
    if sysctls:
        linux["sysctl"] = sysctls
    if propagation := _rootfs_propagation(inp.mounts):
        linux["rootfsPropagation"] = propagation
    if (seccomp := _seccomp(inp, caps)) is not None:
        linux["seccomp"] = seccomp
    return linux
