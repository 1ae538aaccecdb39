"""Private by default, without root: the modes lamina gives an instance's files whatever
the umask."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from lamina import private
from lamina.build.cache.index import CacheIndex
from lamina.build.context.statcache import StatCache
from lamina.config import Paths
from lamina.engine import make_private


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The worst umask: whatever lamina does not make private explicitly is 0666/0777."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return Paths(root=tmp_path / "root", host=f"unix://{tmp_path}/run/lamina.sock")


def test_the_layout_is_dockers_whatever_the_umask(paths: Paths, open_umask: None) -> None:
    make_private(paths)
    root = paths.root
    assert mode(root) == 0o710
    assert mode(paths.run_dir) == 0o700
    for store in ("content", "layers", "containers", "build"):
        assert mode(root / store) == 0o700, store
    assert mode(root / "volumes") == 0o701
    assert mode(root / "lamina.db") == 0o600


def test_an_older_laminas_files_are_tightened(paths: Paths) -> None:
    for folder in (paths.root / "content", paths.run_dir):
        folder.mkdir(parents=True, mode=0o755)
    paths.root.chmod(0o755)
    for name in ("lamina.db", "lamina.db-wal", "lamina.db-shm"):
        (paths.root / name).write_bytes(b"")
        (paths.root / name).chmod(0o644)
    make_private(paths)
    assert [mode(p) for p in (paths.root, paths.root / "content", paths.run_dir)] == [
        0o710,
        0o700,
        0o700,
    ]
    assert {mode(p) for p in paths.root.glob("lamina.db*")} == {0o600}


def test_a_shared_run_dir_keeps_its_mode(tmp_path: Path) -> None:
    """LAMINA_HOST=unix:///tmp/lamina.sock makes /tmp the run dir: never chmod that."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    (shared / "someone-elses").write_text("")
    make_private(Paths(root=tmp_path / "root", host=f"unix://{shared}/lamina.sock"))
    assert mode(shared) == 0o1777
    assert {mode(shared / n) for n in ("c", "runc", "netns", "ports")} == {0o700}


def test_sqlite_files_and_their_wal_are_private(tmp_path: Path, open_umask: None) -> None:
    index = CacheIndex(tmp_path / "cache.db")  # held: closing it would remove its WAL
    StatCache(tmp_path / "statcache.db")
    db = tmp_path / "plain.db"
    private.sqlite_file(db)
    connection = sqlite3.connect(db)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("CREATE TABLE t (x)")
    files = sorted(tmp_path.iterdir())
    assert {"cache.db-wal", "plain.db-wal", "plain.db-shm"} <= {f.name for f in files}
    assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
    connection.close()
    del index


def test_logs_and_written_files_are_private(tmp_path: Path, open_umask: None) -> None:
    with private.open_append(tmp_path / "daemon.log") as log:
        log.write(b"x\n")
    old = tmp_path / "old.log"
    old.write_text("")
    old.chmod(0o644)
    private.open_append(old).close()
    private.write_file(tmp_path / "config.json", b"{}")
    assert {p.name: mode(p) for p in tmp_path.iterdir()} == {
        "daemon.log": 0o600,
        "old.log": 0o600,
        "config.json": 0o600,
    }


def test_an_older_containers_folder_is_tightened_but_what_it_sees(paths: Paths) -> None:
    """Its environment and output become private; its layer and the /etc files bind-
    mounted into it (read there by any user) keep their modes; links are not followed."""
    folder = paths.root / "containers" / ("c" * 64)
    for sub in ("bundle", "local-logs", "upper/etc", "work", "rootfs"):
        (folder / sub).mkdir(parents=True, mode=0o755)
    outside = paths.root.parent / "outside"
    outside.write_text("")
    loose = ["bundle/config.json", f"{'c' * 64}-json.log", f"{'c' * 64}-json.log.1.gz",
             "monitor.log", "local-logs/container.log", "hosts", "hostname", "resolv.conf",
             "upper/etc/passwd"]  # fmt: skip
    for name in [*loose, "../../daemon.log", "../../forkserver.log"]:
        (folder / name).write_text("")
    for path in [outside, *folder.rglob("*"), folder, *paths.root.glob("*.log")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    (folder / "link.log").symlink_to(outside)
    make_private(paths)
    modes = {str(p.relative_to(folder)): oct(mode(p)) for p in folder.rglob("*")}
    modes.pop("link.log")
    shared = {"hosts", "hostname", "resolv.conf", "upper", "upper/etc", "upper/etc/passwd"}
    shared |= {"work", "rootfs"}
    assert {n: m for n, m in modes.items() if n not in shared} == {
        n: "0o600" if n in loose else "0o700" for n in modes if n not in shared
    }
    assert {n: modes[n] for n in shared} == {
        n: "0o755" if (folder / n).is_dir() else "0o644" for n in shared
    }
    assert mode(folder) == 0o700 and mode(outside) == 0o644
    assert {p.name: mode(p) for p in paths.root.glob("*.log")} == {
        "daemon.log": 0o600,
        "forkserver.log": 0o600,
    }
