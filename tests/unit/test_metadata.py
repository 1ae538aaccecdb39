"""The SQLite metadata: WAL, schema versions, migrations, atomic transactions."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from lamina.errors import Internal
from lamina.store import metadata
from lamina.store.metadata import Metadata


def test_new_database_is_migrated_and_in_wal_mode(tmp_path: Path) -> None:
    db = Metadata(tmp_path / "m.db")
    assert db.version == len(metadata.MIGRATIONS)
    assert db.one("PRAGMA journal_mode")[0] == "wal"  # type: ignore[index]
    tables = {r["name"] for r in db.query("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"images", "tags", "layers", "image_layers", "repo_digests"} <= tables


def test_reopening_keeps_data_and_version(tmp_path: Path) -> None:
    db = Metadata(tmp_path / "m.db")
    with db.transaction() as tx:
        tx.execute("INSERT INTO images VALUES ('sha256:a', NULL, 1, 2, NULL, 3)")
    db.close()
    again = Metadata(tmp_path / "m.db")
    assert again.version == len(metadata.MIGRATIONS)
    assert again.one("SELECT id FROM images")["id"] == "sha256:a"  # type: ignore[index]


def test_failed_transaction_changes_nothing(tmp_path: Path) -> None:
    db = Metadata(tmp_path / "m.db")
    with pytest.raises(RuntimeError), db.transaction() as tx:
        tx.execute("INSERT INTO images VALUES ('sha256:a', NULL, 1, 2, NULL, 3)")
        raise RuntimeError("boom")
    assert db.query("SELECT * FROM images") == []


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version={len(metadata.MIGRATIONS) + 5}")
    raw.close()
    with pytest.raises(Internal, match="upgrade lamina"):
        Metadata(path)


def test_migrations_apply_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        metadata, "MIGRATIONS", (*metadata.MIGRATIONS, "CREATE TABLE extra (x INTEGER)")
    )
    db = Metadata(tmp_path / "m.db")
    assert db.version == len(metadata.MIGRATIONS)
    assert db.query("SELECT * FROM extra") == []
