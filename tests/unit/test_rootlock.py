"""One daemon per data root and per socket, without root: the flocks on
<root>/lamina.lock and <run dir>/lamina.lock."""

from __future__ import annotations

import fcntl
import os
import stat
import subprocess
import time
from pathlib import Path

import pytest

from lamina import rootlock
from lamina.config import Paths
from lamina.errors import Conflict


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return Paths(root=tmp_path / "root", host=f"unix://{tmp_path}/run/lamina.sock")


def test_one_daemon_per_root(paths: Paths) -> None:
    held = rootlock.claim(paths)
    try:
        with pytest.raises(Conflict) as refused:
            rootlock.claim(paths)
        message = str(refused.value)
        assert str(paths.root) in message and f"pid {os.getpid()}" in message
        assert (paths.root / "lamina.lock").read_text() == f"{os.getpid()}\n"
        assert stat.S_IMODE((paths.root / "lamina.lock").stat().st_mode) == 0o600
        assert not os.get_inheritable(held.fd)  # monitors and runc must not hold it
    finally:
        held.release()
    rootlock.claim(paths).release()  # released: the next daemon takes it


def test_a_reused_pid_in_the_lock_file_does_not_block(paths: Paths) -> None:
    """A crashed daemon's pid now belongs to another program: only the flock counts."""
    other = subprocess.Popen(["sleep", "30"])
    try:
        paths.root.mkdir(parents=True)
        (paths.root / "lamina.lock").write_text(f"{other.pid}\n")
        lock = rootlock.claim(paths)
        assert (paths.root / "lamina.lock").read_text() == f"{os.getpid()}\n"
        lock.release()
    finally:
        other.kill()
        other.wait()


def test_the_holder_is_named_by_the_kernel_before_it_writes_its_pid(paths: Paths) -> None:
    """A holder takes the lock before it writes its pid: the loser asks /proc/locks."""
    paths.root.mkdir(parents=True)
    lock_file = paths.root / "lamina.lock"
    lock_file.write_text("")
    holder = subprocess.Popen(["flock", str(lock_file), "sleep", "30"])
    try:
        message = ""
        for _ in range(500):
            try:
                rootlock.claim(paths).release()  # flock(1) has not taken it yet
            except Conflict as err:
                message = str(err)
                break
            time.sleep(0.01)
        assert f"pid {holder.pid}" in message
    finally:
        holder.kill()
        holder.wait()


def test_one_daemon_per_socket_whatever_its_root(paths: Paths, tmp_path: Path) -> None:
    """Two roots, one socket: they would share its run dir (socket, fork server,
    namespaces, port proxies), so the second is refused, told whose it is."""
    held = rootlock.claim(paths)
    other = Paths(root=tmp_path / "other", host=paths.host)
    try:
        with pytest.raises(Conflict) as refused:
            rootlock.claim(other)
        assert str(refused.value) == (
            f"another lamina daemon (pid {os.getpid()}, root {paths.root}) is serving "
            f"{paths.host}: it holds {paths.run_dir / 'lamina.lock'}; give each data "
            "root a socket of its own (LAMINA_HOST)"
        )
        assert held.run is not None and not os.get_inheritable(held.run.fd)
        with open(other.root / "lamina.lock") as refused_root:  # let go when refused
            fcntl.flock(refused_root, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        held.release()
    rootlock.claim(other).release()
    assert stat.S_IMODE(paths.run_dir.stat().st_mode) == 0o700


def test_a_run_dir_that_is_the_root_is_locked_once(tmp_path: Path) -> None:
    same = Paths(root=tmp_path / "both", host=f"unix://{tmp_path}/both/lamina.sock")
    held = rootlock.claim(same)
    assert held.run is None and held.fd >= 0
    held.release()
