"""The real proof: runc accepts what build_spec writes, and the container is what Docker's is.

Each test makes a busybox bundle in a temp dir, writes config.json from build_spec, and
runs `runc run` with its own state root and a unique cgroups path. Teardown deletes
every container it started and the cgroup directories runc left in each v1 hierarchy.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lamina.runtime import security
from lamina.runtime.spec import Resources, SpecInput, build_spec

BUSYBOX = Path("/bin/busybox")
APPLETS = ("sh", "id", "cat", "grep", "touch", "echo", "ls", "wc")
CGROUP_ROOT = Path("/sys/fs/cgroup")
STATUS = "grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status"
DOCKER_DEFAULT_MASK = 0xA80425FB  # Docker's 14 default capabilities, as CapEff shows them

pytestmark = [
    pytest.mark.integration,
    pytest.mark.root,
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("runc") is None or not BUSYBOX.is_file(),
        reason="needs root, runc and busybox-static",
    ),
]


def cap_mask(names: list[str] | tuple[str, ...]) -> int:
    return sum(1 << security.CAPABILITIES.index(name) for name in names)


def status(stdout: str) -> dict[str, str]:
    """The `Key:\tvalue` lines of /proc/self/status that the script printed."""
    pairs = (line.split(":", 1) for line in stdout.splitlines() if ":\t" in line)
    return {key: value.strip() for key, value in pairs}


class Runc:
    """Runs containers from SpecInputs; remembers what it made so teardown removes it."""

    def __init__(self, tmp: Path) -> None:
        self.state = tmp / "state"
        self.bundle = tmp / "bundle"
        self.rootfs = self.bundle / "rootfs"
        self.parent = "lamina-test"
        self.prefix = secrets.token_hex(4)
        self.names: list[str] = []
        _make_rootfs(self.rootfs)

    def container(self, name: str) -> str:
        return f"lamina-test-{self.prefix}-{name}"

    def cgroup(self, name: str) -> str:
        return f"/{self.parent}/{self.prefix}-{name}"

    def run(
        self, name: str, script: str, **options: Any
    ) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
        inp = SpecInput(args=["/bin/sh", "-c", script], env=[], rootfs=self.rootfs)
        inp = replace(inp, cgroups_path=self.cgroup(name), **options)
        spec = build_spec(inp)
        (self.bundle / "config.json").write_text(json.dumps(spec, indent=1))
        container = self.container(name)
        self.names.append(name)
        result = subprocess.run(
            ["runc", "--root", str(self.state), "run", "--bundle", str(self.bundle), container],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return result, spec

    def cleanup(self) -> list[str]:
        """Delete containers and cgroups; return the container cgroups runc had left."""
        for name in self.names:
            subprocess.run(
                ["runc", "--root", str(self.state), "delete", "-f", self.container(name)],
                capture_output=True,
                timeout=30,
            )
        leftovers = []
        for hierarchy in _hierarchies():
            for name in self.names:
                path = hierarchy / self.cgroup(name).lstrip("/")
                if path.is_dir():
                    leftovers.append(str(path))
                    path.rmdir()
            # Absent, or another test's containers are still in it: either way, leave it.
            with contextlib.suppress(OSError):
                (hierarchy / self.parent).rmdir()
        return leftovers


def _hierarchies() -> list[Path]:
    """Each mounted cgroup hierarchy once (cpu and cpuacct may be one, linked twice)."""
    if not CGROUP_ROOT.is_dir():
        return []
    return sorted({p.resolve() for p in CGROUP_ROOT.iterdir() if p.is_dir()})


def _make_rootfs(rootfs: Path) -> None:
    (rootfs / "bin").mkdir(parents=True)
    (rootfs / "etc").mkdir()
    shutil.copy2(BUSYBOX, rootfs / "bin" / "busybox")
    for applet in APPLETS:
        (rootfs / "bin" / applet).symlink_to("busybox")
    (rootfs / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/:/bin/sh\n"
    )
    (rootfs / "etc" / "group").write_text("root:x:0:\nwheel:x:10:app\napp:x:1000:\n")


@pytest.fixture
def runc(tmp_path: Path) -> Iterator[Runc]:
    runner = Runc(tmp_path)
    yield runner
    leftovers = runner.cleanup()
    assert leftovers == [], "runc should remove a container's cgroups when it exits"
    assert not any((CGROUP_ROOT / "memory" / runner.parent).glob(f"{runner.prefix}-*"))
    assert str(tmp_path) not in Path("/proc/self/mountinfo").read_text(), "a mount leaked"


def test_default_container_is_dockers(runc: Runc) -> None:
    masked = "/proc/timer_list"  # a masked path this kernel has: it must read empty
    script = f"id; {STATUS}; echo masked=$(cat {masked} 2>/dev/null | wc -c); echo ok"
    result, _ = runc.run("default", script, no_new_privileges=True)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "uid=0(root) gid=0(root)" in out
    assert int(status(out)["CapEff"], 16) == DOCKER_DEFAULT_MASK
    assert cap_mask(security.DEFAULT_CAPABILITIES) == DOCKER_DEFAULT_MASK
    assert int(status(out)["CapBnd"], 16) == DOCKER_DEFAULT_MASK
    assert status(out)["NoNewPrivs"] == "1"
    assert status(out)["Seccomp"] == "2"
    if Path(masked).exists():
        assert "masked=0" in out
    assert out.rstrip().endswith("ok")


def test_non_root_user_holds_no_capabilities(runc: Runc) -> None:
    result, spec = runc.run("user", f"id; {STATUS}", user="app", seccomp="unconfined")
    assert result.returncode == 0, result.stderr
    assert "uid=1000(app) gid=1000(app)" in result.stdout
    assert "10(wheel)" in result.stdout
    assert spec["process"]["user"]["additionalGids"] == [1000, 10]
    assert int(status(result.stdout)["CapEff"], 16) == 0
    assert int(status(result.stdout)["CapBnd"], 16) == DOCKER_DEFAULT_MASK
    assert status(result.stdout)["NoNewPrivs"] == "0"
    assert status(result.stdout)["Seccomp"] == "0"


def test_resources_apply_on_cgroup_v1(runc: Runc) -> None:
    if not (CGROUP_ROOT / "memory" / "memory.limit_in_bytes").exists():
        pytest.skip("no cgroup v1 memory controller")
    script = (
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max "
        "/sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.shares"
    )
    resources = Resources(memory=64 << 20, pids_limit=50, nano_cpus=500_000_000, cpu_shares=512)
    result, _ = runc.run("limits", script, resources=resources, seccomp="unconfined")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(64 << 20), "50", "50000", "512"]


def test_readonly_rootfs_refuses_writes(runc: Runc) -> None:
    ro, _ = runc.run("ro", "touch /x", readonly_rootfs=True, seccomp="unconfined")
    assert ro.returncode != 0
    assert "Read-only file system" in ro.stderr
    assert not (runc.rootfs / "x").exists()
    rw, _ = runc.run("rw", "touch /x && echo wrote", seccomp="unconfined")
    assert rw.returncode == 0, rw.stderr
    assert (runc.rootfs / "x").exists()


def test_privileged_gets_every_capability_this_host_can_grant(runc: Runc) -> None:
    script = f"{STATUS}; echo unmasked=$(cat /proc/timer_list 2>/dev/null | wc -c)"
    result, _ = runc.run("priv", script, privileged=True)
    assert result.returncode == 0, result.stderr
    if Path("/proc/timer_list").exists():
        assert "unmasked=0" not in result.stdout
    assert int(status(result.stdout)["CapEff"], 16) == cap_mask(security.host_capabilities())
    assert status(result.stdout)["Seccomp"] == "0"


def test_init_is_bound_and_wraps_the_command(runc: Runc, tmp_path: Path) -> None:
    init = tmp_path / "fake-init"
    init.write_text('#!/bin/sh\n[ "$1" = "--" ] && shift\necho "init saw: $*"\nexec "$@"\n')
    init.chmod(0o755)
    result, _ = runc.run("init", "echo child", init=str(init), seccomp="unconfined")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["init saw: /bin/sh -c echo child", "child"]
