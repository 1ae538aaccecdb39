"""Shared fixtures: a private lamina instance per test (own root, socket, device prefix)."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lamina.config import Paths

pytest_plugins = ["tests.support.jail"]  # the jail and untouched fixtures

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def needs_root() -> pytest.MarkDecorator:
    return pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


@dataclass
class Daemon:
    paths: Paths
    process: subprocess.Popen[bytes]

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "LAMINA_ROOT": str(self.paths.root),
            "LAMINA_HOST": self.paths.host,
            "DOCKER_HOST": self.paths.host,
            "LAMINA_NO_AUTOSTART": "1",
            "DOCKER_CONFIG": str(self.paths.root / "docker"),
        }

    def lamina(
        self, *args: str, input: bytes | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run the lamina CLI against this daemon."""
        return _run([sys.executable, "-m", "lamina", *args], self.env, input, check)

    def docker(
        self, *args: str, input: bytes | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run the real docker CLI against this daemon."""
        return _run(["docker", *args], self.env, input, check)

    def wait_exit_recorded(self, container_id: str, *, what: str) -> None:
        """Until the container's monitor has recorded its exit in its state file (it
        does so with or without a daemon running)."""
        from lamina.containers.monitor.state import MonitorFiles, read_state
        from tests.support.wait import wait_for

        files = MonitorFiles(self.paths.run_dir / "c" / container_id[:16])

        def recorded() -> bool:
            state = read_state(files.state)
            return state is not None and state.final

        wait_for(recorded, interval=0.02, what=what)


def _run(
    cmd: list[str], env: dict[str, str], input: bytes | None, check: bool
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, env=env, input=input, capture_output=True, timeout=300)
    result = subprocess.CompletedProcess(
        proc.args,
        proc.returncode,
        proc.stdout.decode(errors="replace"),
        proc.stderr.decode(errors="replace"),
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
    return result


@pytest.fixture
def instance() -> Iterator[Paths]:
    """A fresh root and socket in a short /tmp path (unix socket paths max 107 bytes)."""
    base = Path(tempfile.mkdtemp(prefix="lam-", dir="/tmp"))
    paths = Paths(root=base / "root", host=f"unix://{base}/lamina.sock")
    try:
        yield paths
    finally:
        leftovers = _processes_of(base)
        for pid in leftovers:
            os.kill(pid, signal.SIGKILL)
        _assert_no_mounts(base)
        remove_empty_cgroup_parents(paths)
        shutil.rmtree(base, ignore_errors=True)
        assert not leftovers, f"processes of {base} left running: {leftovers}"


def start_daemon(paths: Paths) -> subprocess.Popen[bytes]:
    paths.root.mkdir(parents=True, exist_ok=True)
    log = open(paths.root.parent / "daemon.log", "ab")  # noqa: SIM115 (lives with the process)
    env = {**os.environ, "LAMINA_ROOT": str(paths.root), "LAMINA_HOST": paths.host}
    process = subprocess.Popen(
        [sys.executable, "-m", "lamina", "daemon"], env=env, stdout=log, stderr=log
    )
    deadline = time.monotonic() + 60  # generous: CI machines can be busy
    while not _answers(paths):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError("daemon did not start:\n" + daemon_log(paths))
        time.sleep(0.02)
    return process


def _answers(paths: Paths) -> bool:
    # Connect, not just exists(): a killed daemon leaves its socket file behind.
    import socket

    with socket.socket(socket.AF_UNIX) as sock:
        try:
            sock.connect(str(paths.socket))
        except OSError:
            return False
    return True


def stop_daemon(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def remove_all_containers(d: Daemon) -> None:
    """Containers outlive the daemon by design; a test's must not outlive the test."""
    if d.process.poll() is not None:
        return
    ids = d.lamina("ps", "-aq", "--no-trunc", check=False).stdout.split()
    if ids:
        d.lamina("rm", "-f", *ids, check=False)


def assert_no_runtime_containers(paths: Paths) -> None:
    root = paths.run_dir / "runc"
    if not root.exists():
        return
    out = subprocess.run(
        ["runc", "--root", str(root), "list", "-q"], capture_output=True, text=True, check=False
    ).stdout.split()
    for cid in out:
        subprocess.run(["runc", "--root", str(root), "delete", "-f", cid], check=False)
    assert not out, f"runc containers left behind: {out}"


def assert_no_network_leftovers(paths: Paths) -> None:
    """No device with the instance's prefix, no firewall rule naming it, no pinned
    namespace: a stopped daemon leaves only what running containers use. Removes what
    it finds, so one failing test does not fail the next."""
    prefix = paths.device_prefix
    devices = [d for d in os.listdir("/sys/class/net") if d.startswith(prefix)]
    for name in devices:
        subprocess.run(["ip", "link", "del", name], capture_output=True, check=False)
    rules = []
    if shutil.which("iptables"):
        for chain in ("FORWARD", "INPUT"):
            out = subprocess.run(["iptables", "-w", "-S", chain], capture_output=True, text=True)
            rules += [r for r in out.stdout.splitlines() if f'"lamina {prefix} ' in r]
        for rule in rules:
            subprocess.run(["iptables", "-w", "-D", *shlex.split(rule)[1:]], check=False)
    netns_dir = paths.run_dir / "netns"
    pinned = sorted(p.name for p in netns_dir.iterdir()) if netns_dir.exists() else []
    for name in pinned:
        subprocess.run(["umount", "-l", str(netns_dir / name)], capture_output=True, check=False)
    assert not (devices or rules or pinned), f"network leftovers: {devices} {rules} {pinned}"


@pytest.fixture(scope="session", autouse=True)
def _no_cgroup_parents_left() -> Iterator[None]:
    """Tests that start daemons of their own (not through `instance`) leave their
    instances' empty cgroup parents too: sweep those at the end of the run."""
    yield
    for parent in Path("/sys/fs/cgroup").glob("*/lamina-l[0-9a-f][0-9a-f][0-9a-f][0-9a-f]"):
        with contextlib.suppress(OSError):
            parent.rmdir()


def remove_empty_cgroup_parents(paths: Paths) -> None:
    """runc removes a container's cgroup, never the parent it made for it (the
    instance's own, `Paths.cgroup_parent`): remove it where it is empty. One that still
    holds a container (a test's that failed) is left, and rmdir says EBUSY."""
    root = Path("/sys/fs/cgroup")
    name = paths.cgroup_parent.lstrip("/")
    for parent in [root / name, *root.glob(f"*/{name}")]:
        with contextlib.suppress(OSError):
            parent.rmdir()


def daemon_log(paths: Paths) -> str:
    path = paths.root.parent / "daemon.log"
    return path.read_text(errors="replace") if path.exists() else ""


@pytest.fixture
def daemon(instance: Paths) -> Iterator[Daemon]:
    running = Daemon(instance, start_daemon(instance))
    try:
        yield running
    finally:
        remove_all_containers(running)
        stop_daemon(running.process)  # a test may have restarted it
        assert_no_runtime_containers(instance)
        assert_no_network_leftovers(instance)
        log = daemon_log(instance)
        assert "Traceback" not in log, f"daemon logged a traceback:\n{log}"


@pytest.fixture
def busybox(daemon: Daemon) -> str:
    """lamina's busybox image, bootstrapped in the test's daemon: its ID."""
    return daemon.lamina("image", "bootstrap", "busybox").stdout.strip().splitlines()[-1]


@pytest.fixture
def no_build_leftovers(daemon: Daemon) -> Iterator[None]:
    """After the test: no build step left on disk, in the runtime or mounted."""
    from tests.support.builds import leftovers

    yield
    assert leftovers(daemon) == []


def _processes_of(base: Path) -> list[int]:
    """Processes started for this instance (they carry its LAMINA_ROOT)."""
    marker = f"LAMINA_ROOT={base}/".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if marker in f.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


def _assert_no_mounts(base: Path) -> None:
    with open("/proc/mounts", encoding="utf-8") as f:
        left = [line for line in f if f" {base}" in line]
    for line in reversed(left):
        subprocess.run(["umount", "-l", line.split()[1]], check=False)
    assert not left, f"mounts left behind: {left}"
