"""One daemon per data root: the flock on <root>/lamina.lock, not a pid file, decides."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lamina.config import Paths
from tests.conftest import Daemon, daemon_log, start_daemon, stop_daemon
from tests.support.wait import wait_for

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("runc") is None, reason="needs root and runc"
)


@pytest.mark.parametrize("shared", ["root and socket", "root", "socket"])
def test_two_daemons_started_at_once_one_serves(instance: Paths, shared: str) -> None:
    """Neither a root nor a socket may be shared: a pid file in the run dir let two run
    on one root through two sockets, and two roots given one socket would share its run
    dir (the second replaced the first's socket, then swept its namespaces and proxies)."""
    base = instance.root.parent
    other = Paths(
        instance.root if "root" in shared else base / "other-root",
        instance.host if "socket" in shared else f"unix://{base}/other.sock",
    )
    both = [(instance, _daemon(instance.root, instance.host))]
    both.append((other, _daemon(other.root, other.host)))
    try:

        def settled() -> bool:  # one gave up, or (on two sockets) both answer: a bug
            ended = any(p.poll() is not None for _, p in both)
            return ended or (other.host != instance.host and all(_answers(i.host) for i, _ in both))

        wait_for(settled, timeout=60, what="one of the two daemons to give up")
        [(_, loser)] = [(i, p) for i, p in both if p.poll() is not None]
        [(paths, winner)] = [(i, p) for i, p in both if p is not loser]
        assert loser.returncode != 0 and loser.stderr is not None
        message = loser.stderr.read().decode()
        what = str(instance.root) if "root" in shared else instance.host
        assert f"pid {winner.pid}" in message and f"is serving {what}" in message, message
        serving = Daemon(paths, winner)
        assert "Server" in serving.lamina("version").stdout
        assert winner.poll() is None
    finally:
        for _, p in both:
            stop_daemon(p)
            if p.stderr:
                p.stderr.close()


def _daemon(root: Path, host: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "LAMINA_ROOT": str(root), "LAMINA_HOST": host}
    command = [sys.executable, "-m", "lamina", "daemon"]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _answers(host: str) -> bool:
    with socket.socket(socket.AF_UNIX) as s:
        try:
            s.connect(host.removeprefix("unix://"))
        except OSError:
            return False
    return True


def test_a_stale_pid_reused_by_another_program_does_not_block_start(instance: Paths) -> None:
    """A crashed daemon left its pid behind; the pid now belongs to some other program."""
    other = subprocess.Popen(["sleep", "60"])
    try:
        instance.root.mkdir(parents=True)
        instance.run_dir.mkdir(parents=True, exist_ok=True)
        (instance.root / "lamina.lock").write_text(f"{other.pid}\n")
        (instance.run_dir / "lamina.pid").write_text(f"{other.pid}\n")  # an older lamina's
        daemon = start_daemon(instance)
        try:
            assert (instance.root / "lamina.lock").read_text() == f"{daemon.pid}\n"
            assert "serving" in daemon_log(instance)
        finally:
            stop_daemon(daemon)
    finally:
        other.kill()
        other.wait()


def test_a_second_root_on_a_served_socket_leaves_the_first_alone(
    daemon: Daemon, busybox: str
) -> None:
    """Given the socket a daemon serves, a daemon on another root exits before it looks
    at the run dir: the first keeps its socket, and its container its namespace and its
    published port. (Before the run dir's lock, the second replaced the socket, removed
    the namespace's pin and stopped the port's proxy.)"""
    daemon.lamina(
        "run", "-d", "--name", "web", "-p", "127.0.0.1::7000", "busybox", "sh", "-c",
        "while true; do echo PONG | nc -l -p 7000; done",
    )  # fmt: skip
    port = int(daemon.lamina("port", "web", "7000").stdout.strip().rsplit(":", 1)[1])
    cid = daemon.lamina("inspect", "-f", "{{.Id}}", "web").stdout.strip()
    socket_inode = daemon.paths.socket.stat().st_ino
    second = _daemon(daemon.paths.root.parent / "other-root", daemon.paths.host)
    try:
        _, err = second.communicate(timeout=60)
    finally:
        stop_daemon(second)
    message = err.decode()
    holder = f"(pid {daemon.process.pid}, root {daemon.paths.root})"
    assert second.returncode == 1 and f"{holder} is serving {daemon.paths.host}" in message
    assert daemon.paths.socket.stat().st_ino == socket_inode
    assert (daemon.paths.run_dir / "netns" / cid[:16]).exists()
    assert _ask(port) == b"PONG\n"
    assert "Server" in daemon.lamina("version").stdout


def _ask(port: int) -> bytes:
    """A published port's answer (retried: the server may be between two `nc`s)."""
    for _ in range(50):
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 5) as s:
            s.sendall(b"ping\n")
            if answer := s.recv(10):
                return answer
        time.sleep(0.1)
    return b""
