"""Busybox OCI bundles for tests: a rootfs from the host's busybox-static and a config
like `runc spec`'s, adjusted to need nothing set up (no network namespace, writable
root, Docker's default capabilities).

    bundle = make_bundle(tmp / "bundle", ["sh", "-c", "echo hi"])
    runtime.create("lamina-test-x", bundle, pid_file=..., stdio=...)

`process(args)` gives the OCI process object that `runc exec --process` takes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

BUSYBOX = Path("/bin/busybox")
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CAPABILITIES = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
]  # fmt: skip


def available() -> bool:
    """Whether bundles can be made and run here (busybox-static and runc installed)."""
    return BUSYBOX.exists() and shutil.which("runc") is not None


def make_bundle(
    directory: Path,
    args: list[str],
    *,
    terminal: bool = False,
    env: list[str] | None = None,
    memory_limit: int | None = None,
) -> Path:
    """Write `directory/config.json` and `directory/rootfs`; returns `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    rootfs = make_rootfs(directory / "rootfs")
    config = make_config(args, rootfs=rootfs, terminal=terminal, env=env)
    if memory_limit is not None:
        config["linux"]["resources"]["memory"] = {"limit": memory_limit}
    (directory / "config.json").write_text(json.dumps(config, indent=2))
    return directory


def make_rootfs(rootfs: Path) -> Path:
    for name in ("bin", "dev", "proc", "sys", "etc", "root", "tmp", "var"):
        (rootfs / name).mkdir(parents=True, exist_ok=True)
    os.chmod(rootfs / "tmp", 0o1777)
    # A copy, not a hard link: root in the container could otherwise rewrite the host's.
    shutil.copy2(BUSYBOX, rootfs / "bin" / "busybox")
    for applet in _applets():
        link = rootfs / "bin" / applet
        if not link.exists():
            link.symlink_to("busybox")
    (rootfs / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
    )
    (rootfs / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
    return rootfs


def process(
    args: list[str], *, terminal: bool = False, env: list[str] | None = None, cwd: str = "/"
) -> dict[str, Any]:
    """An OCI process object (also what `runc exec --process` reads)."""
    caps = {kind: list(CAPABILITIES) for kind in ("bounding", "effective", "permitted")}
    return {
        "terminal": terminal,
        "user": {"uid": 0, "gid": 0},
        "args": args,
        "env": env if env is not None else [f"PATH={PATH}", "TERM=xterm"],
        "cwd": cwd,
        "capabilities": caps,
    }


def make_config(
    args: list[str], *, rootfs: Path, terminal: bool = False, env: list[str] | None = None
) -> dict[str, Any]:
    return {
        "ociVersion": "1.0.2-dev",
        "process": process(args, terminal=terminal, env=env),
        "root": {"path": str(rootfs), "readonly": False},
        "hostname": "lamina-test",
        "mounts": _MOUNTS,
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            # No network namespace: the test needs no interfaces set up.
            "namespaces": [{"type": t} for t in ("pid", "ipc", "uts", "mount")],
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                            "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                            "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                              "/proc/sysrq-trigger"],
        },
    }  # fmt: skip


def _applets() -> list[str]:
    out = subprocess.run([str(BUSYBOX), "--list"], capture_output=True, text=True, check=True)
    return [name for name in out.stdout.split() if "/" not in name]


def _mount(dest: str, kind: str, source: str, *options: str) -> dict[str, Any]:
    return {"destination": dest, "type": kind, "source": source, "options": list(options)}


_MOUNTS = [
    _mount("/proc", "proc", "proc"),
    _mount("/dev", "tmpfs", "tmpfs", "nosuid", "strictatime", "mode=755", "size=65536k"),
    _mount("/dev/pts", "devpts", "devpts", "nosuid", "noexec", "newinstance", "ptmxmode=0666",
           "mode=0620", "gid=5"),
    _mount("/dev/shm", "tmpfs", "shm", "nosuid", "noexec", "nodev", "mode=1777", "size=65536k"),
    _mount("/dev/mqueue", "mqueue", "mqueue", "nosuid", "noexec", "nodev"),
    _mount("/sys", "sysfs", "sysfs", "nosuid", "noexec", "nodev", "ro"),
    _mount("/sys/fs/cgroup", "cgroup", "cgroup", "nosuid", "noexec", "nodev", "relatime", "ro"),
]  # fmt: skip
