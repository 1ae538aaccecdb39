"""Build-cache keys made of named inputs, so a miss can say which input changed.

A `CacheKey` is a sorted tuple of (name, value) inputs; its digest is sha256 over a
canonical encoding of them and is the key the cache index stores results under. The
index is global to the daemon: another Dockerfile in another folder that computes the
same key gets the same layer. Input names:

    kind              the instruction keyword (RUN, COPY, ...)
    parent            chain ID and config digest of the image before the step
    platform          target platform
    instruction       the instruction after variable expansion (heredoc bodies included)
    env:<NAME>        RUN: every ENV the command sees
    arg:<NAME>        RUN: every build arg in scope that has a value
    shell network security mounts                  RUN options
    files from chown chmod link dest               COPY/ADD; `files` is the selection checksum

Which args count: BuildKit puts every build arg in scope into the RUN's environment, so
all of them (with a value) key a RUN, used or not. Other instructions see args only
through variable expansion, which the expanded `instruction` already covers.

`detail` holds what explains but must not count twice: `file:<name>` per selected entry
(its checksum is already `files`), `site` (Dockerfile, stage and line, to find the
previous build of this step) and `parent_step`. It is not part of the digest.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from lamina import private
from lamina.errors import Internal, map_errors
from lamina.oci import digest as digests
from lamina.oci.digest import Digest

_VERSION = "lamina-cachekey-v1\n"
_LIST_LIMIT = 10  # files named per category in an explanation


@dataclass(frozen=True)
class CacheKey:
    inputs: tuple[tuple[str, str], ...]
    detail: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        names = [name for name, _ in self.inputs]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate cache key inputs: {sorted(names)}")
        object.__setattr__(self, "inputs", tuple(sorted(self.inputs)))

    @cached_property
    def digest(self) -> Digest:
        encoded = json.dumps(self.inputs, ensure_ascii=False, separators=(",", ":"))
        return digests.of_bytes((_VERSION + encoded).encode("utf-8", "surrogatepass"))

    def get(self, name: str) -> str | None:
        return dict(self.inputs).get(name)

    @property
    def kind(self) -> str:
        return self.get("kind") or ""

    @property
    def parent(self) -> str:
        return self.get("parent") or ""

    @property
    def site(self) -> str:
        return self.detail.get("site", "")


def _key(
    kind: str,
    parent: str | None,
    instruction: str,
    extra: Sequence[tuple[str, str]],
    *,
    platform: str,
    site: str,
    parent_step: int | None,
    detail: Mapping[str, str] | None = None,
) -> CacheKey:
    inputs = [("kind", kind), ("instruction", instruction), ("platform", platform), *extra]
    if parent is not None:
        inputs.append(("parent", parent))
    info = dict(detail or {})
    if site:
        info["site"] = site
    if parent_step is not None:
        info["parent_step"] = str(parent_step)
    return CacheKey(tuple(inputs), info)


def run_key(
    parent: str,
    instruction: str,
    *,
    env: Mapping[str, str],
    args: Mapping[str, str],
    shell: Sequence[str] = (),
    network: str = "default",
    security: str = "sandbox",
    mounts: Sequence[str] = (),
    platform: str = "",
    site: str = "",
    parent_step: int | None = None,
) -> CacheKey:
    """Key of a RUN. `mounts` are canonical descriptions, each including the checksum
    of what a bind mount exposes; cache-mount contents are deliberately not keyed."""
    extra = [(f"env:{name}", value) for name, value in env.items()]
    extra += [(f"arg:{name}", value) for name, value in args.items()]
    extra += [("shell", json.dumps(list(shell))), ("network", network)]
    extra += [("security", security), ("mounts", "\n".join(mounts))]
    return _key("RUN", parent, instruction, extra, platform=platform, site=site,
                parent_step=parent_step)  # fmt: skip


def copy_key(
    parent: str,
    instruction: str,
    files: str,
    *,
    file_detail: Mapping[str, str] | None = None,
    from_: str = "",
    chown: str = "",
    chmod: str = "",
    link: bool = False,
    dest: str = "",
    platform: str = "",
    site: str = "",
    parent_step: int | None = None,
) -> CacheKey:
    """Key of a COPY/ADD; `files` is the selection checksum, `file_detail` its per-entry
    lines (`Selection.files`). With `link` the parent is left out: a `--link` layer is
    built on an empty tree, so it is reusable on any parent (BuildKit's point of it)."""
    kind = instruction.split(None, 1)[0].upper() if instruction.strip() else "COPY"
    extra = [("files", files), ("from", from_), ("chown", chown), ("chmod", chmod)]
    extra += [("link", "true" if link else "false"), ("dest", dest)]
    detail = {f"file:{name}": line for name, line in (file_detail or {}).items()}
    return _key(kind, None if link else parent, instruction, extra, platform=platform,
                site=site, parent_step=parent_step, detail=detail)  # fmt: skip


def meta_key(
    parent: str,
    instruction: str,
    *,
    platform: str = "",
    site: str = "",
    parent_step: int | None = None,
) -> CacheKey:
    """Key of a step that depends only on its parent and its text: ENV, LABEL, USER,
    CMD, ... and WORKDIR, which BuildKit also runs as a mkdir (its record has a layer)."""
    kind = instruction.split(None, 1)[0].upper() if instruction.strip() else ""
    return _key(kind, parent, instruction, (), platform=platform, site=site,
                parent_step=parent_step)  # fmt: skip


def explain(old: CacheKey | None, new: CacheKey) -> list[str]:
    """Why `new` missed, compared with `old` (the nearest earlier key), as sentences."""
    if old is None:
        return ["no earlier build of this step"]
    if old.digest == new.digest:
        return []
    before, after = dict(old.inputs), dict(new.inputs)
    names = sorted(before.keys() | after.keys(), key=_explain_order)
    return [
        _sentence(name, before.get(name), after.get(name), old, new)
        for name in names
        if before.get(name) != after.get(name)
    ]


def _explain_order(name: str) -> tuple[int, str]:
    first = ("kind", "parent", "instruction", "files")
    return (first.index(name), "") if name in first else (len(first), name)


def _sentence(
    name: str, old: str | None, new: str | None, old_key: CacheKey, new_key: CacheKey
) -> str:
    if name == "parent":
        step = new_key.detail.get("parent_step")
        return f"parent changed (step {step} was rebuilt)" if step else "parent changed"
    if name == "instruction":
        return f'instruction changed: "{old}" → "{new}"'
    if name == "files":
        return _files_sentence(old_key.detail, new_key.detail)
    label, _, var = name.partition(":")
    what = {"env": f"ENV {var}", "arg": f"build arg {var}"}.get(label, name) if var else name
    if old is None:
        return f'{what} added: "{new}"'
    if new is None:
        return f'{what} removed (was "{old}")'
    return f'{what}: "{old}" → "{new}"'


def _files_sentence(old: Mapping[str, str], new: Mapping[str, str]) -> str:
    before = {k[5:]: v for k, v in old.items() if k.startswith("file:")}
    after = {k[5:]: v for k, v in new.items() if k.startswith("file:")}
    if not before or not after:
        return "files changed"
    changed = [
        f"{_show(name)} ({_entry_change(before[name], after[name])})"
        for name in sorted(before.keys() & after.keys())
        if before[name] != after[name]
    ]
    parts = [_listing(changed)] if changed else []
    if added := [_show(n) for n in sorted(after.keys() - before.keys())]:
        parts.append("added: " + _listing(added))
    if removed := [_show(n) for n in sorted(before.keys() - after.keys())]:
        parts.append("removed: " + _listing(removed))
    return "files changed: " + ", ".join(parts) if parts else "files changed (order)"


def _entry_change(old: str, new: str) -> str:
    """What differs between two `Selection.files` lines: type, mode, owner, content."""
    kind_a, mode_a, owner_a, rest_a = [*old.split(" ", 3), ""][:4]
    kind_b, mode_b, owner_b, rest_b = [*new.split(" ", 3), ""][:4]
    if kind_a != kind_b:
        return f"type {kind_a}→{kind_b}"
    reasons = []
    if mode_a != mode_b:
        reasons.append(f"mode {int(mode_a, 8):03o}→{int(mode_b, 8):03o}")
    if owner_a != owner_b:
        reasons.append(f"owner {owner_a}→{owner_b}")
    if rest_a != rest_b:
        reasons.append("content" if kind_a == "file" else f'target "{rest_a}"→"{rest_b}"')
    return ", ".join(reasons)


def _show(name: str) -> str:
    return name or "."


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:_LIST_LIMIT])
    more = len(names) - _LIST_LIMIT
    return f"{shown} and {more} more" if more > 0 else shown


# --- the index ------------------------------------------------------------------------

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
