"""Metadata in SQLite: what names what.

Blobs and unpacked layers are the facts on disk; this database records the relations
between them: which images exist, which tags and digests point at them, which layers
each image and each container stands on. Those relations are the roots the garbage
collector (store/gc.py) marks from. SQLite runs in WAL mode so readers never wait for a writer, and
every change is one transaction, so a crash leaves the old state or the new one.

The schema version lives in `PRAGMA user_version`; `MIGRATIONS[i]` takes a database
from version i to i+1. Add a migration to change the schema; never edit an old one.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lamina.errors import Internal, map_errors

MIGRATIONS: Sequence[str] = (
    # 0 → 1: images, their names, and the layers they use.
    """
    CREATE TABLE images (
        id TEXT PRIMARY KEY,            -- sha256 of the config blob
        manifest TEXT,                  -- digest of the OCI manifest lamina wrote for it
        created REAL NOT NULL,          -- from the config, seconds since the epoch
        size INTEGER NOT NULL,          -- sum of its layers' uncompressed sizes
        parent TEXT,                    -- the image it was built from, if any
        added REAL NOT NULL             -- when this daemon first stored it
    );
    CREATE TABLE tags (
        ref TEXT PRIMARY KEY,           -- normalised "docker.io/library/busybox:latest"
        image_id TEXT NOT NULL REFERENCES images(id)
    );
    CREATE INDEX tags_image ON tags(image_id);
    CREATE TABLE repo_digests (
        ref TEXT PRIMARY KEY,           -- "docker.io/library/busybox@sha256:..."
        image_id TEXT NOT NULL REFERENCES images(id)
    );
    CREATE TABLE layers (
        chain_id TEXT PRIMARY KEY,
        diff_id TEXT NOT NULL,
        parent TEXT,
        size INTEGER NOT NULL,          -- uncompressed tar size
        blob TEXT,                      -- digest of the blob it was unpacked from
        media_type TEXT
    );
    CREATE TABLE image_layers (
        image_id TEXT NOT NULL REFERENCES images(id),
        position INTEGER NOT NULL,
        chain_id TEXT NOT NULL REFERENCES layers(chain_id),
        PRIMARY KEY (image_id, position)
    );
    CREATE INDEX image_layers_chain ON image_layers(chain_id);
    """,
    # 1 → 2: volumes (their data lives in volumes/<name>/_data).
    """
    CREATE TABLE volumes (
        name TEXT PRIMARY KEY,
        driver TEXT NOT NULL,           -- "local"
        created REAL NOT NULL,          -- seconds since the epoch
        labels TEXT NOT NULL,           -- JSON object of strings
        options TEXT NOT NULL,          -- JSON object of strings (driver options)
        populated REAL                  -- when image content was first copied in, or NULL
    );
    """,
    # 2 → 3: containers; configs as the API received them, state as last observed.
    """
    CREATE TABLE containers (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        image TEXT NOT NULL,
        image_id TEXT NOT NULL,
        created TEXT NOT NULL,
        config TEXT NOT NULL,           -- Docker's Config, JSON
        host_config TEXT NOT NULL,      -- Docker's HostConfig, JSON
        mounts TEXT NOT NULL,           -- resolved MountPoints, JSON
        state TEXT NOT NULL,            -- State, JSON
        path TEXT NOT NULL,
        args TEXT NOT NULL
    );
    CREATE INDEX containers_image ON containers(image_id);
    """,
    # 3 → 4: networks, and their members (a lease while attached; unique per network).
    """
    CREATE TABLE networks (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        driver TEXT NOT NULL,           -- bridge | host | null
        created TEXT NOT NULL,          -- RFC 3339
        subnet TEXT,                    -- "172.18.0.0/16" (bridge only)
        gateway TEXT,
        ip_range TEXT,
        internal INTEGER NOT NULL,
        labels TEXT NOT NULL,           -- JSON object of strings
        options TEXT NOT NULL           -- JSON object of strings
    );
    CREATE TABLE network_members (
        network_id TEXT NOT NULL REFERENCES networks(id),
        container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
        config TEXT NOT NULL,           -- JSON: what was asked (aliases, --ip)
        endpoint_id TEXT,               -- the rest is set while the container is attached
        address TEXT,
        mac TEXT,
        interface TEXT,
        dns_names TEXT,                 -- JSON list
        position INTEGER NOT NULL,      -- order of joining: eth0, eth1, ...
        PRIMARY KEY (network_id, container_id)
    );
    CREATE UNIQUE INDEX network_leases ON network_members(network_id, address)
        WHERE address IS NOT NULL;
    CREATE INDEX network_members_container ON network_members(container_id);
    """,
    # 4 → 5: each container's reference on its layers (its top chainID, which stands on
    # all its parents), from the transaction that creates it until its row goes; the
    # collector (store/gc.py) keeps what these name. Existing containers take theirs
    # from their image, if it is still there.
    """
    CREATE TABLE container_layers (
        container_id TEXT PRIMARY KEY REFERENCES containers(id) ON DELETE CASCADE,
        chain_id TEXT NOT NULL REFERENCES layers(chain_id)
    );
    CREATE INDEX container_layers_chain ON container_layers(chain_id);
    INSERT INTO container_layers (container_id, chain_id)
        SELECT c.id, il.chain_id FROM containers c JOIN image_layers il
            ON il.image_id = c.image_id
        WHERE il.position = (SELECT max(position) FROM image_layers WHERE image_id = c.image_id);
    """,
)

Row = sqlite3.Row


class Metadata:
    """One SQLite connection shared by the daemon's threads under a lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        with map_errors({sqlite3.Error: Internal}, what=f"metadata database {path}"):
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()

    @property
    def version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        current = self.version
        if current > len(MIGRATIONS):
            raise Internal(
                f"metadata database {self.path} has schema {current}, newer than this "
                f"lamina ({len(MIGRATIONS)}): upgrade lamina"
            )
        for number in range(current, len(MIGRATIONS)):
            with self.transaction() as db:
                db.executescript_in_tx(MIGRATIONS[number])
                db.execute(f"PRAGMA user_version={number + 1}")

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """A write transaction: all of it happens or none of it does."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield Tx(self._db)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        with self._lock:
            return list(self._db.execute(sql, args))

    def one(self, sql: str, args: Sequence[Any] = ()) -> Row | None:
        with self._lock:
            row: Row | None = self._db.execute(sql, args).fetchone()
            return row

    def close(self) -> None:
        with self._lock:
            self._db.close()


class Tx:
    """The statements of one transaction."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def execute(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self._db.execute(sql, args)

    def executescript_in_tx(self, script: str) -> None:
        # executescript() would COMMIT first; run the statements one by one instead.
        for statement in script.split(";"):
            if statement.strip():
                self._db.execute(statement)

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        return list(self._db.execute(sql, args))
