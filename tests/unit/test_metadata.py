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


def test_existing_containers_take_their_layer_reference_from_their_image(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Migration 5: a container made before references holds its image's top layer."""
    path = tmp_path / "m.db"
    monkeypatch.setattr(metadata, "MIGRATIONS", metadata.MIGRATIONS[:4])
    old = Metadata(path)
    with old.transaction() as tx:
        tx.execute("INSERT INTO images VALUES ('sha256:i', NULL, 1, 2, NULL, 3)")
        for position, chain in enumerate(("sha256:base", "sha256:top")):
            tx.execute("INSERT INTO layers VALUES (?, 'sha256:d', NULL, 1, NULL, NULL)", (chain,))
            tx.execute("INSERT INTO image_layers VALUES ('sha256:i', ?, ?)", (position, chain))
        for cid, image in (("c1", "sha256:i"), ("c2", "sha256:gone")):
            tx.execute(
                "INSERT INTO containers VALUES (?, ?, 'img', ?, '', '{}', '{}', '[]', '{}', "
                "'sh', '[]')",
                (cid, cid, image),
            )
    old.close()
    monkeypatch.undo()
    db = Metadata(path)
    rows = db.query("SELECT container_id, chain_id FROM container_layers")
    assert [tuple(r) for r in rows] == [("c1", "sha256:top")]
    with db.transaction() as tx:
        tx.execute("DELETE FROM containers WHERE id = 'c1'")
    assert db.query("SELECT * FROM container_layers") == []  # the reference goes with it
