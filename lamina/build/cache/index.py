"""The build cache index: key digest → the step's result, global to the daemon.

Kept in SQLite (WAL) at `<lamina root>/build/cache.db`; each record keeps its whole key
too, so a later miss can be explained against it (`nearest`). A lookup marks its
record used, for pruning by age.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lamina import private
from lamina.build.cache.key import CacheKey
from lamina.errors import Internal, map_errors

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cache_keys (
    digest TEXT PRIMARY KEY,
    kind TEXT NOT NULL, parent TEXT NOT NULL, site TEXT NOT NULL,
    chain_id TEXT NOT NULL, config_digest TEXT NOT NULL, diff_id TEXT NOT NULL,
    created REAL NOT NULL, last_used REAL NOT NULL,
    inputs TEXT NOT NULL,  -- JSON [[name, value], ...]
    detail BLOB NOT NULL   -- zlib(JSON {name: value}); per-file lines compress well
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS cache_by_parent ON cache_keys (parent, kind, last_used);
CREATE INDEX IF NOT EXISTS cache_by_site ON cache_keys (site, kind, last_used);
"""
_COLUMNS = "chain_id, config_digest, diff_id, created, last_used, inputs, detail"


@dataclass(frozen=True)
class CacheResult:
    """What a step produced: the image's layer chain and config after it, and the
    layer it added ("" when it added none, as for ENV)."""

    chain_id: str
    config_digest: str
    diff_id: str = ""


@dataclass(frozen=True)
class CacheRecord:
    key: CacheKey
    result: CacheResult
    created: float  # seconds since the epoch
    last_used: float


class CacheIndex:
    """Key digest → result, in SQLite (WAL); global to the daemon.

    `nearest` finds the key to explain a miss against: the last build of the same kind
    of step at the same site with the same parent, else at the same site, else with the
    same parent (the step moved, or another Dockerfile shares the base).
    """

    def __init__(self, db_path: Path) -> None:
        self._path = db_path
        db_path.parent.mkdir(parents=True, exist_ok=True)
        private.sqlite_file(db_path)
        self._lock = threading.Lock()
        with map_errors({sqlite3.Error: Internal}, what=f"build cache index {db_path}"):
            self._db = sqlite3.connect(db_path, timeout=30, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            # A lost record after a power cut is a cache miss, not damage: no fsync per
            # lookup (each marks its record used) keeps no-op rebuilds fast.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def lookup(self, key: CacheKey, *, now: float | None = None) -> CacheRecord | None:
        """The result stored under `key`, marking it used."""
        found = self._use(f"SELECT {_COLUMNS} FROM cache_keys WHERE digest = ?", key, now)
        if found is None:
            return None
        row, used = found
        return _record((*row[:4], used, *row[5:]))

    def lookup_result(self, key: CacheKey, *, now: float | None = None) -> CacheResult | None:
        """`lookup` without decoding the stored key: what a hit needs, and no more
        (a COPY's detail names every file of its source)."""
        sql = "SELECT chain_id, config_digest, diff_id FROM cache_keys WHERE digest = ?"
        found = self._use(sql, key, now)
        return None if found is None else CacheResult(*found[0])

    def _use(
        self, sql: str, key: CacheKey, now: float | None
    ) -> tuple[tuple[Any, ...], float] | None:
        """The row `sql` selects for `key`, marked used now; None when there is none."""
        with self._transaction() as db:
            row = db.execute(sql, (key.digest,)).fetchone()
            if row is None:
                return None
            used = time.time() if now is None else now
            db.execute("UPDATE cache_keys SET last_used = ? WHERE digest = ?", (used, key.digest))
        return tuple(row), used

    def record(
        self, key: CacheKey, result: CacheResult, *, now: float | None = None
    ) -> CacheRecord:
        stamp = time.time() if now is None else now
        detail = zlib.compress(
            json.dumps(dict(key.detail), ensure_ascii=False).encode("utf-8", "surrogatepass")
        )
        row = (key.digest, key.kind, key.parent, key.site, result.chain_id,
               result.config_digest, result.diff_id, stamp, stamp,
               json.dumps(key.inputs, ensure_ascii=False), detail)  # fmt: skip
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO cache_keys VALUES (?,?,?,?,?,?,?,?,?,?,?)", row)
        return CacheRecord(key, result, stamp, stamp)

    def nearest(self, key: CacheKey) -> CacheKey | None:
        """The most recently used other key to compare a missed `key` with."""
        tiers: list[tuple[str, tuple[str, ...]]] = []
        if key.site:
            tiers += [("site = ? AND parent = ?", (key.site, key.parent))]
        tiers += [("site = ?", (key.site,))] if key.site else []
        tiers += [("parent = ?", (key.parent,))]
        with self._transaction() as db:
            for where, params in tiers:
                row = db.execute(
                    f"SELECT {_COLUMNS} FROM cache_keys WHERE kind = ? AND digest != ? AND "
                    f"{where} ORDER BY last_used DESC LIMIT 1",
                    (key.kind, key.digest, *params),
                ).fetchone()
                if row is not None:
                    return _record(row).key
        return None

    def prune(self, *, unused_since: float) -> list[CacheRecord]:
        """Drop records not used since `unused_since`; the caller frees their layers."""
        with self._transaction() as db:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM cache_keys WHERE last_used < ?", (unused_since,)
            ).fetchall()
            db.execute("DELETE FROM cache_keys WHERE last_used < ?", (unused_since,))
        return [_record(row) for row in rows]

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        index = f"build cache index {self._path}"
        with self._lock, map_errors({sqlite3.Error: Internal}, what=index), self._db:
            yield self._db


def _record(row: tuple[Any, ...]) -> CacheRecord:
    chain_id, config_digest, diff_id, created, last_used, inputs, detail = row
    pairs = tuple((name, value) for name, value in json.loads(inputs))
    key = CacheKey(pairs, json.loads(zlib.decompress(detail)))
    return CacheRecord(key, CacheResult(chain_id, config_digest, diff_id), created, last_used)
