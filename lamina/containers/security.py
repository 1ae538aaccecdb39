"""What a container may do: capabilities, seccomp, masked paths and devices, as Docker sets them.

Everything here returns OCI runtime-spec fragments (plain dicts and lists). The few host
facts it needs (which capabilities this process can grant, the kernel version and
architecture, the device nodes under /dev) are read by small functions, and the callers
take their answers as arguments so tests can pass others.

Seccomp profiles are in Docker's format (`includes`/`excludes` by capability,
architecture and minimum kernel; `archMap`); `seccomp_from_profile` turns one into the
OCI `linux.seccomp` object for this machine and a given capability set, as moby's
`setupSeccomp` does. The default profile is the one Debian ships for Podman and Buildah.
"""

from __future__ import annotations

import json
import os
import platform
import re
import stat
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from lamina.errors import FailedPrecondition, InvalidArgument


def _caps(names: str) -> tuple[str, ...]:
    return tuple("CAP_" + name for name in names.split())


# Kernel bit order (linux/capability.h): CAPABILITIES[n] is bit n.
CAPABILITIES = _caps(
    "CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP "
    "LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK "
    "IPC_OWNER SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN "
    "SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE "
    "AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND "
    "AUDIT_READ PERFMON BPF CHECKPOINT_RESTORE"
)
# Docker's default set (moby oci/caps/defaults.go), in Docker's order.
DEFAULT_CAPABILITIES = _caps(
    "CHOWN DAC_OVERRIDE FSETID FOWNER MKNOD NET_RAW SETGID SETUID SETFCAP SETPCAP "
    "NET_BIND_SERVICE SYS_CHROOT KILL AUDIT_WRITE"
)

MASKED_PATHS: tuple[str, ...] = (
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",  # added in Docker 25 (power side channel, CVE-2020-8694)
)
READONLY_PATHS: tuple[str, ...] = (
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
)


def _char_rule(major: int, minor: int, *, allow: bool = True) -> dict[str, Any]:
    return {"allow": allow, "type": "c", "major": major, "minor": minor, "access": "rwm"}


# The devices cgroup: deny everything, then allow the nodes every container has. Docker
# lists null, zero, full's siblings and tty/console; runc and crun append pts, ptmx and
# full themselves, which we list too so the spec says what the container really gets.
# FUSE stays denied unless asked for.
DEVICE_RULES: tuple[dict[str, Any], ...] = (
    {"allow": False, "access": "rwm"},
    _char_rule(1, 5),  # zero
    _char_rule(1, 3),  # null
    _char_rule(1, 9),  # urandom
    _char_rule(1, 8),  # random
    _char_rule(5, 0),  # tty
    _char_rule(5, 1),  # console
    _char_rule(1, 7),  # full
    _char_rule(5, 2),  # ptmx
    _char_rule(136, -1),  # /dev/pts/*
    _char_rule(10, 229, allow=False),  # fuse
)
PRIVILEGED_DEVICE_RULES: tuple[dict[str, Any], ...] = ({"allow": True, "access": "rwm"},)


# --- capabilities ---------------------------------------------------------------------


@cache
def host_capabilities() -> tuple[str, ...]:
    """The capabilities this process holds and the kernel knows: all a container can get.

    As Docker, use the effective set, so a daemon running with fewer capabilities (in a
    container, say) never asks runc for one it cannot grant.
    """
    try:
        last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
        status = Path("/proc/self/status").read_text()
    except (OSError, ValueError):
        return CAPABILITIES
    effective = next(
        (int(line.split()[1], 16) for line in status.splitlines() if line.startswith("CapEff:")),
        (1 << (last + 1)) - 1,
    )
    return tuple(c for i, c in enumerate(CAPABILITIES) if i <= last and effective >> i & 1)


def _normalize(names: Sequence[str], available: Sequence[str], *, adding: bool) -> list[str]:
    out = []
    for name in names:
        cap = name.upper()
        if cap != "ALL" and not cap.startswith("CAP_"):
            cap = "CAP_" + cap
        if cap != "ALL" and cap not in CAPABILITIES:
            raise InvalidArgument(f'unknown capability: "{cap}"')
        # Dropping a capability the host lacks is harmless, so only adding one is refused.
        if adding and cap != "ALL" and cap not in available:
            raise InvalidArgument(
                "capability not supported by your kernel or not available in the current "
                f'environment: "{cap}"'
            )
        out.append(cap)
    return out


def capabilities(
    *,
    privileged: bool,
    add: Sequence[str],
    drop: Sequence[str],
    available: Sequence[str] | None = None,
) -> list[str]:
    """The container's capability set, as moby's `TweakCapabilities`.

    `add`/`drop` take "NET_ADMIN", "cap_net_admin" or "ALL". `available` defaults to
    `host_capabilities()`; privileged containers get all of it.
    """
    avail = list(host_capabilities() if available is None else available)
    if privileged:
        return avail
    drops = _normalize(drop, avail, adding=False)
    adds = _normalize(add, avail, adding=True)
    if "ALL" in adds:
        caps = [c for c in avail if c not in drops]
    elif "ALL" in drops:
        caps = adds
    else:
        caps = [c for c in DEFAULT_CAPABILITIES if c not in drops] + adds
    return list(dict.fromkeys(caps))


# --- devices --------------------------------------------------------------------------

# Not devices a privileged container should get from the host (as containerd's walk).
_SKIP_DIRS = frozenset({"pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"})
_DEVICE_TYPES = ((stat.S_ISCHR, "c"), (stat.S_ISBLK, "b"), (stat.S_ISFIFO, "p"))


def host_devices(dev: Path = Path("/dev")) -> list[dict[str, Any]]:
    """Every device node under `dev` as OCI `linux.devices` entries (for --privileged)."""
    found: list[dict[str, Any]] = []
    try:
        entries = sorted(os.scandir(dev), key=lambda e: e.name)
    except OSError:
        return found
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            if entry.name not in _SKIP_DIRS:
                found.extend(host_devices(Path(entry.path)))
            continue
        if entry.name == "console":
            continue  # the runtime makes /dev/console for the container's own terminal
        st = entry.stat(follow_symlinks=False)
        kind = next((t for test, t in _DEVICE_TYPES if test(st.st_mode)), None)
        if kind is None:
            continue
        node: dict[str, Any] = {"path": entry.path, "type": kind}
        if kind != "p":
            node |= {"major": os.major(st.st_rdev), "minor": os.minor(st.st_rdev)}
        node |= {"fileMode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid}
        found.append(node)
    return found


# --- seccomp --------------------------------------------------------------------------

SECCOMP_PROFILE = Path("/usr/share/containers/seccomp.json")
SECCOMP_PACKAGE = "golang-github-containers-common"

# platform.machine() → (libseccomp's native name, the SCMP_ARCH_* that names it).
_ARCHES = {
    "x86_64": ("amd64", "SCMP_ARCH_X86_64"),
    "aarch64": ("arm64", "SCMP_ARCH_AARCH64"),
    "i686": ("x86", "SCMP_ARCH_X86"),
    "armv7l": ("arm", "SCMP_ARCH_ARM"),
    "ppc64le": ("ppc64le", "SCMP_ARCH_PPC64LE"),
    "s390x": ("s390x", "SCMP_ARCH_S390X"),
    "riscv64": ("riscv64", "SCMP_ARCH_RISCV64"),
}


def _version(text: str) -> tuple[int, int]:
    """ "5.3", "6.18.44-fc" → (major, minor), read as moby reads them (`%d.%d`)."""
    match = re.match(r"(\d+)\.(\d+)", text)
    if not match:
        raise InvalidArgument(f"seccomp profile: invalid kernel version {text!r}")
    return int(match[1]), int(match[2])


def _selected(
    rule: Mapping[str, Any], caps: Sequence[str], arch: str, kernel: tuple[int, int]
) -> bool:
    """Whether a profile rule applies here (moby's includes/excludes semantics)."""
    exc, inc = rule.get("excludes") or {}, rule.get("includes") or {}
    if arch in (exc.get("arches") or ()) or any(c in caps for c in exc.get("caps") or ()):
        return False
    if exc.get("minKernel") and kernel >= _version(exc["minKernel"]):
        return False
    if inc.get("arches") and arch not in inc["arches"]:
        return False
    if any(c not in caps for c in inc.get("caps") or ()):
        return False
    return not (inc.get("minKernel") and kernel < _version(inc["minKernel"]))


def _oci_syscall(rule: Mapping[str, Any]) -> dict[str, Any]:
    names = list(rule.get("names") or [])
    if rule.get("name"):
        if names:
            raise InvalidArgument("seccomp profile: a rule has both 'name' and 'names'")
        names = [rule["name"]]
    if not names or not rule.get("action"):
        raise InvalidArgument("seccomp profile: every rule needs 'names' and 'action'")
    out: dict[str, Any] = {"names": names, "action": rule["action"]}
    if rule.get("errnoRet") is not None:
        out["errnoRet"] = rule["errnoRet"]
    if rule.get("args"):
        out["args"] = [
            {
                "index": a["index"],
                "value": a.get("value", 0),
                "valueTwo": a.get("valueTwo", 0),
                "op": a["op"],
            }
            for a in rule["args"]
        ]
    return out


def _architectures(profile: Mapping[str, Any], native: str) -> list[str]:
    if profile.get("architectures") and profile.get("archMap"):
        raise InvalidArgument(
            "seccomp profile: 'architectures' and 'archMap' were both specified, use one"
        )
    if profile.get("architectures"):
        return list(profile["architectures"])
    for entry in profile.get("archMap") or ():
        if entry.get("architecture") == native:
            return [native, *(entry.get("subArchitectures") or ())]
    return []


def seccomp_from_profile(
    profile: Mapping[str, Any],
    caps: Sequence[str],
    *,
    machine: str | None = None,
    kernel: tuple[int, int] | None = None,
) -> dict[str, Any] | None:
    """Convert a Docker-format profile into OCI `linux.seccomp`; None when it is empty."""
    if not profile.get("defaultAction") and not profile.get("syscalls"):
        return None  # as Docker: an empty profile means no filter
    arch, native = _ARCHES.get(machine or platform.machine(), ("", ""))
    kernel = kernel or _version(os.uname().release)
    out: dict[str, Any] = {"defaultAction": profile.get("defaultAction") or "SCMP_ACT_ALLOW"}
    for key in ("defaultErrnoRet", "flags", "listenerPath", "listenerMetadata"):
        if profile.get(key) is not None:
            out[key] = profile[key]
    if architectures := _architectures(profile, native):
        out["architectures"] = architectures
    out["syscalls"] = [
        _oci_syscall(rule)
        for rule in profile.get("syscalls") or ()
        if _selected(rule, caps, arch, kernel)
    ]
    return out


def _convert(text: str, caps: Sequence[str], origin: str) -> dict[str, Any] | None:
    try:
        profile = json.loads(text)
    except json.JSONDecodeError as err:
        raise InvalidArgument(f"decoding seccomp profile {origin}failed: {err}") from err
    if not isinstance(profile, dict):
        raise InvalidArgument(f"decoding seccomp profile {origin}failed: not a JSON object")
    try:
        return seccomp_from_profile(profile, caps)
    except (TypeError, KeyError, AttributeError) as err:
        # A rule of the wrong shape ("args" not a list, an arg without "op"...).
        raise InvalidArgument(f"decoding seccomp profile {origin}failed: {err!r}") from err


def load_seccomp(path: Path, caps: Sequence[str]) -> dict[str, Any] | None:
    """Read a Docker-format profile from `path` and convert it for `caps`."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise InvalidArgument(f"opening seccomp profile ({path}) failed: {err}") from err
    return _convert(text, caps, f"{path} ")


def seccomp_from_json(text: str, caps: Sequence[str]) -> dict[str, Any] | None:
    """Convert a Docker-format profile given as JSON text (as the Docker API sends it)."""
    return _convert(text, caps, "")


def default_seccomp(capabilities: Sequence[str], *, profile: Path | None = None) -> dict[str, Any]:
    """The default profile (Debian's containers-common) as OCI `linux.seccomp` for `caps`.

    `profile` replaces the default file's path (tests use it).
    """
    path = profile or SECCOMP_PROFILE
    if not path.is_file():
        raise FailedPrecondition(
            f"the default seccomp profile {path} is missing: "
            f"install the Debian package {SECCOMP_PACKAGE}"
        )
    try:
        converted = load_seccomp(path, capabilities)
    except InvalidArgument as err:
        raise FailedPrecondition(f"the default seccomp profile is broken: {err}") from err
    if converted is None:
        raise FailedPrecondition(f"the default seccomp profile {path} is empty")
    return converted
