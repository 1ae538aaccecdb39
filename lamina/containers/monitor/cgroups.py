"""What the monitor asks of cgroups: did the kernel's OOM killer strike in a container."""

from __future__ import annotations

from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def memory_cgroup(pid: int) -> Path | None:
    """The memory cgroup directory of `pid` (v1 memory controller, or the v2 unified one)."""
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return None
    unified = (CGROUP_ROOT / "cgroup.controllers").exists()
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return CGROUP_ROOT / "memory" / path.lstrip("/")
        if unified and controllers == "":
            return CGROUP_ROOT / path.lstrip("/")
    return None


def oom_kills(cgroup: Path | None) -> int:
    """How many processes the OOM killer took in `cgroup` (read before it is removed)."""
    if cgroup is None:
        return 0
    for name in ("memory.oom_control", "memory.events"):  # v1, v2
        try:
            text = (cgroup / name).read_text()
        except OSError:
            continue
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
    return 0
