"""What a container may do: capabilities, masked paths and devices, as Docker sets them.

Everything here returns OCI runtime-spec fragments (plain dicts and lists). The few host
facts it needs (which capabilities this process can grant, the device nodes under /dev)
are read by small functions, and the callers take their answers as arguments so tests
can pass others. Seccomp, the other half of a container's confinement, is
`lamina.runtime.seccomp` (Docker's default profile and the profile converter).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from lamina.errors import InvalidArgument
from lamina.process import effective_capabilities


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
    except (OSError, ValueError):
        return CAPABILITIES
    effective = effective_capabilities(unknown=(1 << (last + 1)) - 1)
    return tuple(c for i, c in enumerate(CAPABILITIES) if i <= last and effective >> i & 1)


def normalize_capabilities(names: Sequence[str]) -> list[str]:
    """ "net_admin", "NET_ADMIN" or "CAP_NET_ADMIN" → "CAP_NET_ADMIN"; "ALL" stays; a name
    the kernel does not define is refused (moby's `NormalizeLegacyCapabilities`)."""
    out = []
    for name in names:
        cap = name.upper()
        if cap != "ALL" and not cap.startswith("CAP_"):
            cap = "CAP_" + cap
        if cap != "ALL" and cap not in CAPABILITIES:
            raise InvalidArgument(f'unknown capability: "{cap}"')
        out.append(cap)
    return out


def _available(caps: list[str], available: Sequence[str]) -> list[str]:
    """`caps` to add, if this process can grant them all."""
    for cap in caps:
        if cap != "ALL" and cap not in available:
            raise InvalidArgument(
                "capability not supported by your kernel or not available in the current "
                f'environment: "{cap}"'
            )
    return caps


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
    # Dropping a capability the host lacks is harmless, so only adding one is refused.
    drops = normalize_capabilities(drop)
    adds = _available(normalize_capabilities(add), avail)
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
