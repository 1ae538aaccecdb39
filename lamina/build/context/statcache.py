"""Content digests of build-context files, remembered by stat so unchanged files are
not read again.

A file's entry is keyed by its absolute path and holds (size, mtime_ns, ctime_ns, inode,
device) → sha256 of its content. A later lookup trusts the digest only if all five
still agree: a rewrite changes mtime and ctime, `touch -d` can turn mtime back but not
ctime, and a path reused by a new file (rename over it, delete and recreate) has a new
inode. The rows live in SQLite (WAL) under a directory the caller chooses, e.g.
`<lamina root>/build/statcache.db`, and are read one directory range per batch.

Residual risk, the same one BuildKit's and git's stat checks carry: file timestamps
have a granularity (a few ms on ext4/xfs, 2 s on FAT). A file rewritten twice within
one tick, keeping its size, looks unchanged. We narrow that as git does with "racy"
entries: a digest taken less than `racy_window_ns` after the file's last change is used
for this build but not stored, so the file is hashed again next time. What remains is a
file whose ctime is forged (changing the clock, debugfs) or a filesystem that does not
keep ctime; a build with the cache disabled (`no_cache`) reads everything.
"""

from __future__ import annotations

import hashlib
import operator
import os
import sqlite3
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

from lamina import private
from lamina.errors import Internal, InvalidArgument, map_errors

# (size, mtime_ns, ctime_ns, inode, device): what must not change for a digest to hold.
StatKey = tuple[int, int, int, int, int]
Opener = Callable[[str], BinaryIO]

_CHUNK = 1 << 20
RACY_WINDOW_NS = 2_000_000_000  # FAT's 2 s granularity, the coarsest we expect
_MEMORY_LIMIT = 500_000  # files remembered in memory (~100 MB) before starting over
# Hashing strategy (see StatCache._hash_all); timings of a 2-CPU machine with SHA-NI.
_PROBE_FILES = 64
_FILE_NS = 20_000  # open, read, close and bookkeeping of a small cached file
_BYTES_PER_NS = 1  # sha256 at ~1 GB/s
_BIG_FILE = 1 << 20
_BATCH_FILES, _BATCH_BYTES = 256, 16 << 20  # work per task, to keep pool overhead low
_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    stat BLOB NOT NULL,  -- _PACKED StatKey: one column to fetch and compare, not five
    digest TEXT NOT NULL
) WITHOUT ROWID
"""
_PACKED = struct.Struct("<QqqQQ")  # size, mtime_ns, ctime_ns (may be < 0), inode, device


# (size, mtime_ns, ctime_ns, inode, device) of an os.stat_result, picked in C: a no-op
# rebuild takes it for every file of the context.
stat_key: Callable[[os.stat_result], StatKey] = operator.attrgetter(
    "st_size", "st_mtime_ns", "st_ctime_ns", "st_ino", "st_dev"
)


def open_no_follow(path: str) -> BinaryIO:
    """Open for hashing; refuse a file swapped for a symlink since it was walked."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    return open(fd, "rb", buffering=0)


class StatCache:
    """Maps files to content digests, rereading only files whose stat changed.

    `db_path=None` keeps the cache in memory for this object's life only. Safe to share
    between threads; each call opens its own SQLite connection.
    """

    def __init__(
        self,
        db_path: Path | None,
        *,
        opener: Opener = open_no_follow,
        racy_window_ns: int = RACY_WINDOW_NS,
        workers: int = 4,
    ) -> None:
        self._db_path = db_path
        self._opener = opener
        self._racy_window_ns = racy_window_ns
        self._workers = workers
        self._memory: dict[str, tuple[bytes, str]] = {}  # path → (packed key, digest)
        self._lock = threading.Lock()
        if db_path is not None:
            db_path.parent.mkdir(parents=True, exist_ok=True)
            private.sqlite_file(db_path)
            with self._connect(begin=False) as db:
                db.execute("PRAGMA journal_mode=WAL")  # not allowed inside a transaction
                db.execute(_SCHEMA)

    def digests(self, files: Sequence[tuple[str, StatKey]]) -> list[str]:
        """`sha256:<hex>` of each file's content, in order. Paths are absolute."""
        known = self._known(files)
        out: list[str] = []
        misses: list[int] = []
        pack = _PACKED.pack
        for i, (path, key) in enumerate(files):
            hit = known.get(path)
            if hit is not None and hit[0] == pack(*key):
                out.append(hit[1])
            else:
                out.append("")
                misses.append(i)
        if misses:
            self._fill(files, misses, out)
        return out

    def _known(self, files: Sequence[tuple[str, StatKey]]) -> dict[str, tuple[bytes, str]]:
        with self._lock:
            memory = self._memory
            known = {path: memory[path] for path, _ in files if path in memory} if memory else {}
        if self._db_path is None or len(known) == len(files):
            return known
        rows = self._read_rows(_common_dir(path for path, _ in files))
        return {path: (key, digest) for path, key, digest in rows} | known

    def _read_rows(self, prefix: str) -> list[tuple[str, bytes, str]]:
        # One range scan for the whole batch: "<dir>/" up to "<dir>0" ('0' follows '/').
        query = "SELECT path, stat, digest FROM files"
        if not _storable(prefix):
            return []
        with self._connect() as db:
            if prefix == "/":
                return db.execute(query).fetchall()
            return db.execute(
                query + " WHERE path > ? AND path < ?", (prefix + "/", prefix + "0")
            ).fetchall()

    def _fill(
        self, files: Sequence[tuple[str, StatKey]], misses: list[int], out: list[str]
    ) -> None:
        started = time.time_ns()
        paths = [files[i][0] for i in misses]
        sizes = [files[i][1][0] for i in misses]
        fresh: list[tuple[str, StatKey, str]] = []
        for i, digest in zip(misses, self._hash_all(paths, sizes), strict=True):
            out[i] = digest
            path, key = files[i]
            if started - max(key[1], key[2]) >= self._racy_window_ns:
                fresh.append((path, key, digest))
        self._store(fresh)

    def _hash_all(self, paths: list[str], sizes: list[int]) -> list[str]:
        """Digests in order. Threads help when reads wait on the disk (a cold page
        cache) or files are big (hashlib and read() drop the GIL for big buffers); for
        small cached files they only contend for the GIL. So hash a probe serially and
        go parallel only if it ran slower than the CPU alone explains, or if big
        files remain."""
        probe = _probe_size(sizes)
        started = time.perf_counter_ns()
        digests = [self._hash(path) for path in paths[:probe]]
        elapsed = time.perf_counter_ns() - started
        rest, rest_sizes = paths[probe:], sizes[probe:]
        cpu_ns = len(digests) * _FILE_NS + sum(sizes[:probe]) // _BYTES_PER_NS
        waited = elapsed > 2 * cpu_ns
        if rest and self._workers > 1 and (waited or max(rest_sizes) >= _BIG_FILE):
            with ThreadPoolExecutor(self._workers) as pool:
                for batch in pool.map(self._hash_batch, _batches(rest, rest_sizes)):
                    digests.extend(batch)
        else:
            digests.extend(self._hash(path) for path in rest)
        return digests

    def _hash_batch(self, paths: list[str]) -> list[str]:
        return [self._hash(path) for path in paths]

    def _hash(self, path: str) -> str:
        try:
            with self._opener(path) as stream:
                h = hashlib.sha256()
                while chunk := stream.read(_CHUNK):
                    h.update(chunk)
        except OSError as err:
            raise InvalidArgument(f"cannot read {path}: {err.strerror or err}") from err
        return "sha256:" + h.hexdigest()

    def _store(self, fresh: list[tuple[str, StatKey, str]]) -> None:
        if not fresh:
            return
        packed = [(path, _PACKED.pack(*key), digest) for path, key, digest in fresh]
        with self._lock:
            if len(self._memory) + len(packed) > _MEMORY_LIMIT:
                self._memory.clear()  # a daemon's long life: the database still has them
            for path, key_bytes, digest in packed:
                self._memory[path] = (key_bytes, digest)
        if self._db_path is None:
            return
        rows = [row for row in packed if _storable(row[0])]
        with self._connect() as db:
            db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?)", rows)

    def prune(self) -> int:
        """Forget files that are gone or changed; returns how many rows went."""
        if self._db_path is None:
            return 0
        with self._connect() as db:
            rows = db.execute("SELECT path, stat FROM files").fetchall()
            stale = [(path,) for path, key in rows if _current_key(path) != key]
            db.executemany("DELETE FROM files WHERE path = ?", stale)
        with self._lock:
            for (path,) in stale:
                self._memory.pop(path, None)
        return len(stale)

    def _connect(self, *, begin: bool = True) -> _Connection:
        assert self._db_path is not None
        return _Connection(self._db_path, begin=begin)


class _Connection:
    """A short-lived SQLite connection: commit on success, always close; errors are
    translated at this boundary."""

    def __init__(self, path: Path, *, begin: bool) -> None:
        with map_errors({sqlite3.Error: Internal}, what=f"stat cache {path}"):
            self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self._path = path
        self._begin = begin
        # Rows can always be recomputed: a crash may lose the last ones, never corrupt.
        self._db.execute("PRAGMA synchronous=NORMAL")

    def __enter__(self) -> sqlite3.Connection:
        if self._begin:
            self._db.execute("BEGIN")
        return self._db

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, _: object
    ) -> None:
        try:
            if self._begin:
                self._db.execute("COMMIT" if kind is None else "ROLLBACK")
        except sqlite3.Error as db_err:
            raise Internal(f"stat cache {self._path}: {db_err}") from db_err
        finally:
            self._db.close()
        if isinstance(err, sqlite3.Error):
            raise Internal(f"stat cache {self._path}: {err}") from err


def _probe_size(sizes: list[int]) -> int:
    """How many leading files to hash serially: up to _PROBE_FILES, and less than a
    big file's worth of bytes (big files should not wait for a serial probe)."""
    total = 0
    for count, size in enumerate(sizes[:_PROBE_FILES]):
        total += size
        if total >= _BIG_FILE:
            return max(count, 1)
    return min(len(sizes), _PROBE_FILES)


def _batches(paths: list[str], sizes: list[int]) -> Iterator[list[str]]:
    batch: list[str] = []
    total = 0
    for path, size in zip(paths, sizes, strict=True):
        batch.append(path)
        total += size
        if len(batch) >= _BATCH_FILES or total >= _BATCH_BYTES:
            yield batch
            batch, total = [], 0
    if batch:
        yield batch


def _storable(path: str) -> bool:
    """SQLite takes UTF-8 only; a name that is not (surrogate-escaped bytes) is not cached."""
    try:
        path.encode()
    except UnicodeEncodeError:
        return False
    return True


def _current_key(path: str) -> bytes | None:
    try:
        return _PACKED.pack(*stat_key(os.lstat(path)))
    except OSError:
        return None


def _common_dir(paths: Iterable[str]) -> str:
    """The deepest directory containing every path (the min and max suffice)."""
    ordered = list(paths)
    low, high = min(ordered), max(ordered)
    common = os.path.commonprefix([low, high])
    if common == low == high:
        return os.path.dirname(low)
    return common[: common.rfind("/")] or "/"
