"""One daemon per data root: the flock on <root>/lamina.lock, not a pid file, decides."""

from __future__ import annotations

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

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("runc") is None, reason="needs root and runc"
)


@pytest.mark.parametrize("sockets", ["one socket", "two sockets"])
def test_two_daemons_started_at_once_one_serves(instance: Paths, sockets: str) -> None:
    """Whichever socket each would serve: the root is what two daemons must not share
    (a pid file in the run dir let two run on one root through two sockets)."""
    other = f"unix://{instance.root.parent}/other.sock" if sockets == "two sockets" else ""
    both = [(instance.host, _daemon(instance.root, instance.host))]
    both.append((other or instance.host, _daemon(instance.root, other or instance.host)))
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ended = [p for _, p in both if p.poll() is not None]
            if ended or (other and all(_answers(host) for host, _ in both)):
                break
            time.sleep(0.05)
        [(_, loser)] = [(h, p) for h, p in both if p.poll() is not None]
        [(host, winner)] = [(h, p) for h, p in both if p is not loser]
        assert loser.returncode != 0 and loser.stderr is not None
        message = loser.stderr.read().decode()
        assert str(instance.root) in message and f"pid {winner.pid}" in message, message
        serving = Daemon(Paths(instance.root, host), winner)
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
