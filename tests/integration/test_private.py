"""Private by default (DESIGN.md invariant 8), end to end: another host user reads
nothing of an instance, whoever started the daemon and whatever their umask, while
containers, root or not, still run, write volumes and read their /etc files.

The instances here live in a folder everyone may traverse (0755), with the run dir
beside the root as in /var/lib + /run, so only lamina's own modes keep `nobody` out.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from lamina import process
from lamina.config import Paths
from lamina.engine import RUN_DIR_ENTRIES
from tests.conftest import (
    Daemon,
    assert_no_network_leftovers,
    assert_no_runtime_containers,
    daemon_log,
    remove_all_containers,
    start_daemon,
    stop_daemon,
)
from tests.support.wait import wait_for

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("runc") is None, reason="needs root and runc"
)
NOBODY = 65534
SECRET = "SECRET=hunter2-do-not-read"


@pytest.fixture
def exposed(instance: Paths) -> Paths:
    base = instance.root.parent
    base.chmod(0o755)
    return Paths(root=base / "root", host=f"unix://{base}/run/lamina.sock")


@contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


@contextmanager
def serving(paths: Paths, process: subprocess.Popen[bytes]) -> Iterator[Daemon]:
    """The `daemon` fixture's teardown, for a daemon this module started."""
    running = Daemon(paths, process)
    try:
        yield running
    finally:
        remove_all_containers(running)
        stop_daemon(running.process)
        assert_no_runtime_containers(paths)
        assert_no_network_leftovers(paths)
        assert "Traceback" not in daemon_log(paths), daemon_log(paths)


def test_another_user_reads_nothing_while_containers_work(exposed: Paths) -> None:
    with umask(0), serving(exposed, start_daemon(exposed)) as d:
        d.lamina("image", "bootstrap", "busybox")
        d.lamina("volume", "create", "shared")
        d.lamina(
            "run", "-d", "--name", "keeper", "-e", SECRET, "-v", "shared:/data", "busybox",
            "sh", "-c", "echo private > /data/root-file; mkdir /data/u; chown 1000 /data/u;"
            " echo in-upper > /upper-file; echo logged; cat /etc/hosts; sleep 600",
        )  # fmt: skip
        user = d.lamina(
            "run", "--rm", "--user", "1000", "-v", "shared:/data", "busybox", "sh", "-c",
            "echo mine > /data/u/f && cat /data/u/f /data/root-file"
            " && head -1 /etc/hosts && cat /etc/hostname /etc/resolv.conf >/dev/null && id -u",
        )  # fmt: skip
        assert user.stdout.split() == ["mine", "private", "127.0.0.1", "localhost", "1000"]
        cid = d.lamina("inspect", "-f", "{{.Id}}", "keeper").stdout.strip()
        secrets = secret_paths(exposed, cid)
        assert all(os.path.exists(p) for p in secrets), [p for p in secrets if not exists(p)]
        assert SECRET in Path(secrets[2]).read_text()  # the bundle's config: its env
        assert as_nobody(secrets) == dict.fromkeys(secrets, "EACCES")
        assert_docker_modes(exposed, cid)
        # A restarted daemon re-tightens a run dir that holds only what lamina puts there.
        assert {e.name for e in os.scandir(exposed.run_dir)} <= RUN_DIR_ENTRIES
        # Behind the root's 0710, each thing is private itself (Docker's root was 0711
        # until 2021): only a volume's data is reachable by a path, as in Docker.
        exposed.root.chmod(0o711)
        try:
            inner = [p for p in secrets if "/volumes/" not in p]
            assert as_nobody(inner) == dict.fromkeys(inner, "EACCES")
            assert as_nobody([f"{exposed.root}/volumes"]) == {f"{exposed.root}/volumes": "EACCES"}
        finally:
            exposed.root.chmod(0o710)


def test_a_start_tightens_a_root_an_older_lamina_left_open(exposed: Paths) -> None:
    """An older lamina made folders 0755 and files 0644: each container's environment
    (bundle/config.json) and output (its logs, rotated, compressed, the local driver's)
    readable by anyone. The next start makes every one private again."""
    with umask(0), serving(exposed, start_daemon(exposed)) as d:
        d.lamina("image", "bootstrap", "busybox")
        d.lamina("volume", "create", "shared")
        talk = 'for i in $(seq 40); do echo "$SECRET $i"; done; sleep 600'
        d.lamina(
            "run", "-d", "--name", "rotated", "-e", SECRET, "-v", "shared:/data",
            "--log-opt", "max-size=1k", "--log-opt", "max-file=3", "--log-opt", "compress=true",
            "busybox", "sh", "-c", talk,
        )  # fmt: skip
        d.lamina("run", "-d", "--name", "local", "-e", SECRET, "--log-driver", "local",
                 "busybox", "sh", "-c", talk)  # fmt: skip
        ids = d.lamina("inspect", "-f", "{{.Id}}", "rotated", "local").stdout.split()
        json_log = exposed.root / "containers" / ids[0] / f"{ids[0]}-json.log"
        wait_for(
            Path(f"{json_log}.2.gz").exists, timeout=20, what="the log's second compressed file"
        )
        stop_daemon(d.process)  # containers keep running, as they do across an upgrade
        try:
            (exposed.root / "daemon.log").write_text("an older autostart's log\n")
            loosen(exposed)
            logs = [str(json_log), f"{json_log}.1.gz", f"{json_log.parent}/bundle/config.json"]
            logs.append(f"{exposed.root}/containers/{ids[1]}/local-logs/container.log")
            assert SECRET.split("=")[1] in Path(logs[0]).read_text()
            assert as_nobody(logs) == dict.fromkeys(logs, "read")
        finally:
            d.process = start_daemon(exposed)

        secrets = older_secrets(exposed, ids)
        assert as_nobody(secrets) == dict.fromkeys(secrets, "EACCES")
        assert_docker_modes(exposed, ids[0])
        for cid in ids:
            assert loose_modes(exposed.root / "containers" / cid) == {}
        assert mode(exposed.root / "daemon.log") == 0o600
        exposed.root.chmod(0o711)  # behind the root, each store is private itself
        try:
            inner = [str(exposed.root / n) for n in ("lamina.db", "content", "layers", "build")]
            inner += [str(exposed.root / "containers"), str(exposed.root / "volumes" / "shared")]
            assert as_nobody(inner) == dict.fromkeys(inner, "EACCES")
        finally:
            exposed.root.chmod(0o710)
        assert SECRET.split("=")[1] in d.lamina("logs", "local").stdout  # still theirs


def loosen(paths: Paths) -> None:
    """Every folder 0755 and file 0644, as an older lamina left them; what a container
    or an image owns (layers, a volume's data, a container's upper) keeps its modes."""
    owned = {"upper", "work", "rootfs", "diff", "_data", "blobs", "netns"}
    for top in (paths.root, paths.run_dir):
        for folder, dirs, files in os.walk(top):
            os.chmod(folder, 0o755)
            dirs[:] = [n for n in dirs if n not in owned]
            for name in files:
                path = os.path.join(folder, name)
                if stat.S_ISREG(os.lstat(path).st_mode):
                    os.chmod(path, 0o644)


def older_secrets(paths: Paths, ids: list[str]) -> list[str]:
    """Every private thing of the layout table (docs/architecture.md) that exists."""
    root = paths.root
    found = [str(root / n) for n in ("lamina.db", "lamina.db-wal", "lamina.lock", "daemon.log")]
    found += [str(root / n) for n in ("forkserver.log", "build/cache.db", "volumes/shared")]
    for cid in ids:
        for folder, dirs, files in os.walk(root / "containers" / cid):
            dirs[:] = [n for n in dirs if n not in {"upper", "work", "rootfs"}]
            found += [os.path.join(folder, n) for n in files]
    found += [str(paths.run_dir / "c"), str(paths.socket)]
    assert sum("-json.log" in p for p in found) == 3 and sum("local-logs" in p for p in found)
    assert sum(p.endswith(("/config.json", "/monitor.log")) for p in found) == 4
    return found


def loose_modes(container: Path) -> dict[str, str]:
    """What in a container's folder is not private (0700 folders, 0600 files), but what
    the container sees: its layer, and the /etc files bind-mounted into it (0644)."""
    loose = {}
    for folder, dirs, files in os.walk(container):
        if mode(folder) != 0o700:
            loose[folder] = oct(mode(folder))
        dirs[:] = [n for n in dirs if n not in {"upper", "work", "rootfs"}]
        for name in files:
            path = os.path.join(folder, name)
            expected = 0o644 if folder == str(container) and name in ETC_FILES else 0o600
            if mode(path) != expected:
                loose[path] = oct(mode(path))
    return loose


ETC_FILES = frozenset({"hosts", "hostname", "resolv.conf"})


def test_the_clis_autostart_under_umask_077(exposed: Paths) -> None:
    """The CLI makes the root and the daemon's log itself; a strict umask must not make
    what containers need unreadable to them (a volume's _data, for a non-root user)."""
    env = {**os.environ, "LAMINA_ROOT": str(exposed.root), "LAMINA_HOST": exposed.host}

    def cli(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "lamina", *args], env=env, umask=0o077,
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    try:
        cli("volume", "create", "vol")  # no daemon answers: the CLI starts one
        env["LAMINA_NO_AUTOSTART"] = "1"
        assert mode(exposed.root) == 0o710 and mode(exposed.run_dir) == 0o700
        assert mode(exposed.log_file) == 0o600 and "serving" in exposed.log_file.read_text()
        cli("image", "bootstrap", "busybox")
        out = cli(
            "run", "--rm", "--user", "1000", "-v", "vol:/data", "busybox", "sh", "-c",
            "ls -a /data && head -1 /etc/hosts",
        )  # fmt: skip
        assert out.split() == [".", "..", "127.0.0.1", "localhost"]
        assert mode(exposed.root / "volumes" / "vol" / "_data") == 0o755
    finally:
        lock = exposed.root / "lamina.lock"
        pid = int(lock.read_text() or 0) if lock.exists() else 0
        if pid:
            os.kill(pid, signal.SIGTERM)
            process.wait_exit(pid, 15)
    assert pid and not process.running(pid)
    assert_no_runtime_containers(exposed)
    assert_no_network_leftovers(exposed)


def mode(path: Path | str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def exists(path: str) -> bool:
    return os.path.exists(path)


def assert_docker_modes(paths: Paths, cid: str) -> None:
    root, run = paths.root, paths.run_dir
    container = root / "containers" / cid
    expected = {
        root: 0o710,
        run: 0o700,
        root / "lamina.lock": 0o600,
        root / "forkserver.log": 0o600,
        root / "content": 0o700,
        root / "layers": 0o700,
        root / "build": 0o700,
        root / "containers": 0o700,
        container: 0o700,
        container / "bundle" / "config.json": 0o600,
        container / f"{cid}-json.log": 0o600,
        container / "monitor.log": 0o600,
        # Bind-mounted into the container, read there by any user: its folder guards them.
        container / "hosts": 0o644,
        container / "hostname": 0o644,
        container / "resolv.conf": 0o644,
        root / "volumes": 0o701,
        root / "volumes" / "shared": 0o701,
        root / "volumes" / "shared" / "_data": 0o755,  # as the image or its owner left it
    }
    for db in (root / "lamina.db", root / "build" / "cache.db"):
        for suffix in ("", "-wal", "-shm"):
            expected[Path(f"{db}{suffix}")] = 0o600
    actual = {str(p): oct(mode(p)) for p in expected}
    assert actual == {str(p): oct(m) for p, m in expected.items()}


def secret_paths(paths: Paths, cid: str) -> list[str]:
    """What must stay the owner's: metadata, a container's environment, output and files,
    a volume's data, image content, the API and monitor sockets."""
    root, container = paths.root, paths.root / "containers" / cid
    blob = next((root / "content" / "blobs" / "sha256").iterdir())
    return [
        str(root / "lamina.db"),
        str(root / "lamina.db-wal"),
        str(container / "bundle" / "config.json"),
        str(container / f"{cid}-json.log"),
        str(root / "layers" / "active" / f"container-{cid}" / "upper"),
        str(root / "layers" / "active" / f"container-{cid}" / "upper" / "upper-file"),
        str(container / "hosts"),
        str(root / "volumes" / "shared" / "_data" / "root-file"),
        str(blob),
        str(root / "build" / "cache.db"),
        str(root / "forkserver.log"),
        str(paths.run_dir / "c"),
        str(paths.socket),
    ]


def as_nobody(targets: list[str]) -> dict[str, str]:
    """Try each path as user and group nobody with no other groups: read a file, list a
    folder, connect to a socket. The errno name of each failure, or "read"."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop to nobody, try, report, and never return into pytest
        try:
            os.close(read_end)
            os.setgroups([])
            os.setresgid(NOBODY, NOBODY, NOBODY)
            os.setresuid(NOBODY, NOBODY, NOBODY)
            os.write(write_end, json.dumps({t: _try_read(t) for t in targets}).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as report:
        data = report.read()
    os.waitpid(pid, 0)
    result: dict[str, str] = json.loads(data)
    return result


def _try_read(target: str) -> str:
    try:
        if target.endswith(".sock"):
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(target)
        elif os.path.isdir(target):
            os.listdir(target)
        else:
            with open(target, "rb") as f:
                f.read(1)
    except OSError as err:
        return errno.errorcode.get(err.errno or 0, str(err))
    return "read"
