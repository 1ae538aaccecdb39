"""Image records: the rows that say which images exist and what names them.

`ImageRecords` is the only code that reads or writes the image tables; the image
service composes it with the content and layer stores. Names are always stored
normalised (`docker.io/library/busybox:latest`) and shown familiar (`busybox:latest`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from dataclasses import dataclass

from lamina.errors import NotFound
from lamina.oci.digest import Digest
from lamina.oci.reference import Reference, parse_normalized
from lamina.store.gc import Marks
from lamina.store.metadata import Metadata, Row, Tx


@dataclass(frozen=True)
class ImageRow:
    id: Digest
    manifest: Digest | None
    created: float
    size: int
    parent: Digest | None
    added: float


@dataclass(frozen=True)
class LayerRow:
    chain_id: Digest
    diff_id: Digest
    parent: Digest | None
    size: int
    blob: Digest | None
    media_type: str | None


class ImageRecords:
    def __init__(self, db: Metadata) -> None:
        self.db = db

    def get(self, image_id: str) -> ImageRow | None:
        row = self.db.one("SELECT * FROM images WHERE id = ?", (image_id,))
        return _image(row) if row else None

    def all(self) -> list[ImageRow]:
        return [_image(r) for r in self.db.query("SELECT * FROM images ORDER BY created DESC")]

    def ids_with_prefix(self, hex_prefix: str) -> list[Digest]:
        rows = self.db.query(
            "SELECT id FROM images WHERE id >= ? AND id < ?",
            (f"sha256:{hex_prefix}", f"sha256:{hex_prefix}\uffff"),
        )
        return [Digest(r["id"]) for r in rows]

    def image_for_ref(self, ref: Reference) -> Digest | None:
        table = "repo_digests" if ref.digest and not ref.tag else "tags"
        row = self.db.one(f"SELECT image_id FROM {table} WHERE ref = ?", (str(ref),))
        return Digest(row["image_id"]) if row else None

    def tags(self, image_id: str) -> list[Reference]:
        rows = self.db.query("SELECT ref FROM tags WHERE image_id = ? ORDER BY ref", (image_id,))
        return [parse_normalized(r["ref"]) for r in rows]

    def digests(self, image_id: str) -> list[Reference]:
        rows = self.db.query(
            "SELECT ref FROM repo_digests WHERE image_id = ? ORDER BY ref", (image_id,)
        )
        return [parse_normalized(r["ref"]) for r in rows]

    def layers(self, image_id: str) -> list[LayerRow]:
        rows = self.db.query(
            "SELECT l.* FROM image_layers il JOIN layers l ON l.chain_id = il.chain_id "
            "WHERE il.image_id = ? ORDER BY il.position",
            (image_id,),
        )
        return [_layer(r) for r in rows]

    def all_layers(self) -> list[LayerRow]:
        return [_layer(r) for r in self.db.query("SELECT * FROM layers")]

    def layer_users(self, chain_id: str) -> int:
        row = self.db.one("SELECT count(*) AS n FROM image_layers WHERE chain_id = ?", (chain_id,))
        return int(row["n"]) if row else 0

    def children(self, image_id: str) -> list[Digest]:
        """The images whose parent is `image_id` (build steps made on top of it)."""
        rows = self.db.query("SELECT id FROM images WHERE parent = ? ORDER BY id", (image_id,))
        return [Digest(r["id"]) for r in rows]

    # -- for the collector (store/gc.py) ----------------------------------------------

    def mark_roots(self, marks: Marks) -> None:
        """Every image row is a root, tagged or not (build steps' intermediate images
        too): its config blob, its manifest blob, its layers."""
        for r in self.db.query("SELECT id, manifest FROM images"):
            marks.blobs.add(Digest(r["id"]))
            if r["manifest"]:
                marks.blobs.add(Digest(r["manifest"]))
        for r in self.db.query("SELECT DISTINCT chain_id FROM image_layers"):
            marks.layers.add(Digest(r["chain_id"]))

    def layer_blobs(self) -> dict[Digest, Digest | None]:
        rows = self.db.query("SELECT chain_id, blob FROM layers")
        return {Digest(r["chain_id"]): Digest(r["blob"]) if r["blob"] else None for r in rows}

    def forget_layers(self, chain_ids: Collection[Digest]) -> None:
        with self.db.transaction() as tx:
            for chain_id in chain_ids:
                tx.execute("DELETE FROM layers WHERE chain_id = ?", (chain_id,))

    def add(self, row: ImageRow, layers: list[LayerRow]) -> None:
        with self.db.transaction() as tx:
            for layer in layers:
                _put_layer(tx, layer)
            tx.execute(
                "INSERT OR IGNORE INTO images (id, manifest, created, size, parent, added)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (row.id, row.manifest, row.created, row.size, row.parent, row.added),
            )
            for position, layer in enumerate(layers):
                tx.execute(
                    "INSERT OR IGNORE INTO image_layers (image_id, position, chain_id)"
                    " VALUES (?, ?, ?)",
                    (row.id, position, layer.chain_id),
                )

    def set_tag(self, ref: Reference, image_id: str) -> Digest | None:
        """Point `ref` at `image_id`; returns the image it pointed at before, if other.
        NotFound if the image has no row (removed meanwhile)."""
        table = "repo_digests" if ref.digest else "tags"
        try:
            with self.db.transaction() as tx:
                old = tx.query(f"SELECT image_id FROM {table} WHERE ref = ?", (str(ref),))
                tx.execute(
                    f"INSERT OR REPLACE INTO {table} (ref, image_id) VALUES (?, ?)",
                    (str(ref), image_id),
                )
        except sqlite3.IntegrityError as err:  # the foreign key: no such image row
            raise NotFound(f"No such image: {image_id} (to tag it {ref.familiar()})") from err
        previous = old[0]["image_id"] if old else None
        return Digest(previous) if previous and previous != image_id else None

    def untag(self, ref: Reference, *, unless_used: bool = False) -> bool:
        """Remove the name; with `unless_used`, only if no container uses its image
        (checked by the delete itself, so no create slips in between). Returns whether
        it was removed; NotFound if there is no such name."""
        table = "repo_digests" if ref.digest and not ref.tag else "tags"
        with self.db.transaction() as tx:
            cur = tx.execute(
                f"DELETE FROM {table} WHERE ref = ?"
                + (f" AND NOT EXISTS ({_CONTAINER_OF} {table}.image_id)" if unless_used else ""),
                (str(ref),),
            )
            if cur.rowcount:
                return True
            if not tx.query(f"SELECT 1 FROM {table} WHERE ref = ?", (str(ref),)):
                raise NotFound(f"No such image: {ref.familiar()}")
        return False

    def delete(self, image_id: str, *, unless_used: bool = False) -> bool:
        """The image's row and names, in one transaction; its blobs and layers are the
        collector's to free. With `unless_used`, only if no container uses the image:
        the delete of the row decides, so a create that records its container first
        wins, and one after finds no image. Returns whether it was deleted. Callers hold
        `Collector.held_images`, so a lease never reads a row and then finds its layer
        list gone."""
        with self.db.transaction() as tx:
            # The row goes first, so that one statement decides; the names and layer
            # list that reference it go after, checked at the commit.
            tx.execute("PRAGMA defer_foreign_keys = ON")
            cur = tx.execute(
                "DELETE FROM images WHERE id = ?"
                + (f" AND NOT EXISTS ({_CONTAINER_OF} ?)" if unless_used else ""),
                (image_id, image_id) if unless_used else (image_id,),
            )
            if not cur.rowcount:
                return False
            tx.execute("DELETE FROM tags WHERE image_id = ?", (image_id,))
            tx.execute("DELETE FROM repo_digests WHERE image_id = ?", (image_id,))
            tx.execute("DELETE FROM image_layers WHERE image_id = ?", (image_id,))
        return True


_CONTAINER_OF = "SELECT 1 FROM containers WHERE containers.image_id ="


def _put_layer(tx: Tx, layer: LayerRow) -> None:
    tx.execute(
        "INSERT INTO layers (chain_id, diff_id, parent, size, blob, media_type)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(chain_id) DO UPDATE SET"
        " blob = coalesce(layers.blob, excluded.blob),"
        " media_type = coalesce(layers.media_type, excluded.media_type)",
        (layer.chain_id, layer.diff_id, layer.parent, layer.size, layer.blob, layer.media_type),
    )


def _image(r: Row) -> ImageRow:
    return ImageRow(**{k: r[k] for k in r.keys()})  # noqa: SIM118 (sqlite3.Row has no __iter__ of keys)


def _layer(r: Row) -> LayerRow:
    return LayerRow(**{k: r[k] for k in r.keys()})  # noqa: SIM118
