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

from lamina.errors import InvalidArgument
from lamina.runtime import resources, seccomp, security
from lamina.runtime.resources import Resources
from lamina.runtime.users import additional_groups, resolve_user

OCI_VERSION = "1.1.0"  # the runtime-spec Docker 25+ writes; runc 1.1 reads it
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
INIT_PATH = "/sbin/docker-init"

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
    resources: Resources = field(default_factory=Resources)
    privileged: bool = False
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    no_new_privileges: bool = False
    # "builtin" (lamina's default profile, Docker's) | "unconfined" | a profile's path on
    # this host | a Docker-format profile, decoded and checked (securityopts.parse: what
    # both CLIs send for seccomp=<file>)
    seccomp: str | Mapping[str, Any] = "builtin"
    netns: str | None = None  # a network namespace to join; None → a new one
    host_network: bool = False  # --network host: no network namespace at all
    cgroups_path: str = ""
    init: str | None = None  # host path of an init binary (tini-static)
    annotations: Mapping[str, str] = field(default_factory=dict)
    oom_score_adj: int | None = None
    shm_size: int = 64 * 1024 * 1024
    sysctls: Mapping[str, str] = field(default_factory=dict)  # --sysctl, over the defaults
    rlimits: tuple[Rlimit, ...] = ()  # --ulimit
    group_add: tuple[str, ...] = ()  # --group-add: names or gids, resolved in the rootfs
    devices: tuple[dict[str, Any], ...] = ()  # --device: OCI linux.devices entries
    device_rules: tuple[dict[str, Any], ...] = ()  # their cgroup rules, --device-cgroup-rule
    pid_ns: str | None = None  # "host", or a namespace path to join; None → a new one
    ipc_ns: str | None = None  # "host", or "none" (no /dev/shm); None → a new one
    cgroup_ns: str = ""  # "private" | "host"; "" → Docker's default for the cgroup version
    domainname: str = ""
    masked_paths: tuple[str, ...] | None = None  # None → Docker's defaults
    readonly_paths: tuple[str, ...] | None = None


@dataclass(frozen=True)
class HostFacts:
    """What `build_spec` needs to know about the machine; tests pass their own."""

    capabilities: tuple[str, ...]  # what this process can grant a container
    cgroup_unified: bool  # cgroup v2 only (not v1, not hybrid)
    sysctls: frozenset[str]  # which of DEFAULT_SYSCTLS this kernel has
    cpus: int
    cpu_list: str = ""  # the CPUs a cpuset may name ("0-3"); "" → not checked
    mem_list: str = ""  # the memory nodes a cpuset may name

    @classmethod
    def probe(cls) -> HostFacts:
        return cls(
            capabilities=security.host_capabilities(),
            cgroup_unified=Path("/sys/fs/cgroup/cgroup.controllers").exists(),
            sysctls=frozenset(
                name for name in DEFAULT_SYSCTLS if Path("/proc/sys", *name.split(".")).exists()
            ),
            cpus=len(os.sched_getaffinity(0)),
            cpu_list=resources.available_cpus(),
            mem_list=resources.available_mems(),
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
    groups = [*groups, *additional_groups(inp.rootfs, inp.group_add)]
    args = [INIT_PATH, "--", *inp.args] if _init(inp) else list(inp.args)
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
        if dest == "/dev/shm" and inp.ipc_ns in ("none", "host"):
            continue  # none: no /dev/shm at all; host: the host's, bound by the caller
        if inp.privileged and m["type"] in ("sysfs", "cgroup"):
            m["options"] = [o for o in m["options"] if o != "ro"]
        elif inp.readonly_rootfs and dest not in _WRITABLE_WHEN_READONLY:
            m["options"] = list(dict.fromkeys([*m["options"], "ro"]))
        mounts.append(m)
    mounts.extend(user)
    if _init(inp) and INIT_PATH not in taken:
        init = {"destination": INIT_PATH, "type": "bind", "source": inp.init}
        mounts.append(init | {"options": ["bind", "ro"]})
    # Parents before children: a stable sort by depth keeps Docker's order within a depth.
    return sorted(mounts, key=lambda m: len(PurePosixPath(m["destination"]).parts))


def _init(inp: SpecInput) -> bool:
    """As Docker: --init only where the container has its own PID namespace (elsewhere
    there is an init already)."""
    return bool(inp.init) and inp.pid_ns is None


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
    namespaces.append({"type": "uts"})
    namespaces += _shared("pid", inp.pid_ns)
    namespaces += _shared("ipc", None if inp.ipc_ns == "none" else inp.ipc_ns)
    # Docker's default cgroupns mode is "private" on v2 and "host" on v1/hybrid,
    # where a cgroup namespace would hide nothing the v1 mounts do not show anyway.
    if inp.cgroup_ns == "private" or (not inp.cgroup_ns and host.cgroup_unified):
        namespaces.append({"type": "cgroup"})
    return namespaces


def _shared(kind: str, mode: str | None) -> list[dict[str, str]]:
    """A namespace of the container's own (None), the host's ("host": none listed), or
    another container's (a /proc/<pid>/ns path)."""
    if mode == "host":
        return []
    return [{"type": kind, "path": mode}] if mode else [{"type": kind}]


def _resources(inp: SpecInput, host: HostFacts) -> dict[str, Any]:
    resources.check(inp.resources, cpus=host.cpus, cpu_list=host.cpu_list, mem_list=host.mem_list)
    if inp.privileged:  # every device already; custom rules would only narrow it
        rules = [dict(rule) for rule in security.PRIVILEGED_DEVICE_RULES]
    else:
        rules = [*map(dict, security.DEVICE_RULES), *inp.device_rules]
    return {"devices": rules, **resources.to_spec(inp.resources)}


def _seccomp(inp: SpecInput, caps: list[str]) -> dict[str, Any] | None:
    # As moby: conditions on capabilities are read against the bounding set (`caps`).
    if inp.privileged or inp.seccomp == "unconfined":
        return None
    if isinstance(inp.seccomp, Mapping):
        return seccomp.seccomp_from_profile(inp.seccomp, caps)
    if inp.seccomp == "builtin":
        return seccomp.default_seccomp(caps)
    return seccomp.load_seccomp(Path(inp.seccomp), caps)


def _or(chosen: Sequence[str] | None, default: Sequence[str]) -> list[str]:
    return list(default if chosen is None else chosen)


def _devices(inp: SpecInput) -> list[dict[str, Any]]:
    """The host's nodes for --privileged, else those --device adds; a node the user maps
    at a path wins over the host's at that path."""
    mapped = list(inp.devices)
    if not inp.privileged:
        return mapped
    taken = {d["path"] for d in mapped}
    return [d for d in security.host_devices() if d["path"] not in taken] + mapped


def _linux(inp: SpecInput, caps: list[str], host: HostFacts) -> dict[str, Any]:
    linux: dict[str, Any] = {
        "namespaces": _namespaces(inp, host),
        "maskedPaths": [] if inp.privileged else _or(inp.masked_paths, security.MASKED_PATHS),
        "readonlyPaths": (
            [] if inp.privileged else _or(inp.readonly_paths, security.READONLY_PATHS)
        ),
        "devices": _devices(inp),
        "resources": _resources(inp, host),
    }
    if inp.cgroups_path:
        linux["cgroupsPath"] = inp.cgroups_path
    sysctls = (
        {} if inp.host_network else {k: v for k, v in DEFAULT_SYSCTLS.items() if k in host.sysctls}
    )
    if inp.domainname:
        # As Docker: the sysctl has setdomainname(2)'s effect and needs no runtime support
        # (runc 1.1 ignores the spec's `domainname`).
        sysctls["kernel.domainname"] = inp.domainname
    sysctls |= inp.sysctls
    if sysctls:
        linux["sysctl"] = sysctls
    if propagation := _rootfs_propagation(inp.mounts):
        linux["rootfsPropagation"] = propagation
    if (seccomp := _seccomp(inp, caps)) is not None:
        linux["seccomp"] = seccomp
    return linux
