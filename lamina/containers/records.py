"""Container rows in SQLite: the only code that reads or writes the containers table
and the containers' references on their layers (container_layers)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict
from typing import Any

from lamina.containers.model import Container, MountPoint, State, Status
from lamina.errors import AlreadyExists, Internal, InvalidArgument, NotFound
from lamina.images.service import ImageUser
from lamina.oci.digest import Digest
from lamina.store.gc import Marks
from lamina.store.metadata import Metadata, Row, Tx


class ContainerRecords:
    def __init__(self, db: Metadata) -> None:
        self.db = db

    def add(self, c: Container, *, layer: Digest | None) -> None:
        """Insert the container and, in the same transaction, its reference on `layer`
        (its image's top chainID; None for an image without layers)."""
        try:
            with self.db.transaction() as tx:
                tx.execute(
                    "INSERT INTO containers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        c.id,
                        c.name,
                        c.image,
                        c.image_id,
                        c.created,
                        json.dumps(c.config),
                        json.dumps(c.host_config),
                        _mounts_json(c),
                        _state_json(c.state),
                        c.path,
                        json.dumps(list(c.args)),
                    ),
                )
                if layer is not None:
                    _reference_layer(tx, c.id, layer)
        except sqlite3.IntegrityError as err:
            raise self.name_conflict(c.name) from err

    def layer(self, container_id: str) -> Digest | None:
        """The top chainID the container stands on (None: an image without layers)."""
        row = self.db.one(
            "SELECT chain_id FROM container_layers WHERE container_id = ?", (container_id,)
        )
        return Digest(row["chain_id"]) if row else None

    def mark_roots(self, marks: Marks) -> None:
        """For the collector: each container keeps its layers (store/gc.py)."""
        for row in self.db.query("SELECT DISTINCT chain_id FROM container_layers"):
            marks.layers.add(Digest(row["chain_id"]))

    def name_conflict(self, name: str) -> AlreadyExists:
        return AlreadyExists(
            f'Conflict. The container name "/{name}" is already in use by container '
            f'"{self.id_of_name(name)}". You have to remove (or rename) that container '
            "to be able to reuse that name."
        )

    def save_state(self, container_id: str, state: State) -> None:
        with self.db.transaction() as tx:
            tx.execute(
                "UPDATE containers SET state = ? WHERE id = ?", (_state_json(state), container_id)
            )

    def rename(self, container_id: str, name: str) -> None:
        try:
            with self.db.transaction() as tx:
                tx.execute("UPDATE containers SET name = ? WHERE id = ?", (name, container_id))
        except sqlite3.IntegrityError as err:
            raise AlreadyExists(
                f'Error when allocating new name: Conflict. The container name "/{name}" is '
                f'already in use by container "{self.id_of_name(name)}". You have to remove '
                "(or rename) that container to be able to reuse that name."
            ) from err

    def delete(self, container_id: str) -> None:
        """The row, and with it (ON DELETE CASCADE) its reference on its layers."""
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM containers WHERE id = ?", (container_id,))

    def get(self, container_id: str) -> Container:
        row = self.db.one("SELECT * FROM containers WHERE id = ?", (container_id,))
        if row is None:
            raise NotFound(f"No such container: {container_id}")
        return _container(row)

    def all(self) -> list[Container]:
        return [_container(r) for r in self.db.query("SELECT * FROM containers")]

    def id_of_name(self, name: str) -> str:
        row = self.db.one("SELECT id FROM containers WHERE name = ?", (name,))
        return str(row["id"]) if row else ""

    def find(self, ref: str) -> Container:
        """By name (with or without "/"), full ID, or unique ID prefix — Docker's order."""
        if not ref:
            raise InvalidArgument("container name or ID must not be empty")
        name = ref.removeprefix("/")
        row = self.db.one("SELECT * FROM containers WHERE id = ? OR name = ?", (ref, name))
        if row is not None:
            return _container(row)
        rows = self.db.query(
            "SELECT * FROM containers WHERE id >= ? AND id < ?", (ref, ref + "\uffff")
        )
        if len(rows) > 1:
            raise InvalidArgument(f"multiple IDs found with provided prefix: {ref}")
        if not rows:
            raise NotFound(f"No such container: {ref}")
        return _container(rows[0])

    def using_image(self, image_id: str) -> list[Container]:
        rows = self.db.query(
            "SELECT * FROM containers WHERE image_id = ? ORDER BY created, id", (image_id,)
        )
        return [_container(r) for r in rows]

    def image_users(self, image_id: str) -> list[ImageUser]:
        """What image removal asks (lamina.images.removal): who uses the image."""
        return [ImageUser(c.id, c.state.running) for c in self.using_image(image_id)]

    def volume_users(self, name: str) -> list[str]:
        """What volume removal asks: the IDs of the containers that mount the volume."""
        return [
            c.id for c in self.all() if any(m.type == "volume" and m.name == name for m in c.mounts)
        ]


def _reference_layer(tx: Tx, container_id: str, layer: Digest) -> None:
    try:
        tx.execute(
            "INSERT INTO container_layers (container_id, chain_id) VALUES (?, ?)",
            (container_id, layer),
        )
    except sqlite3.IntegrityError as err:  # the layer row is gone: a lease was not held
        raise Internal(f"container {container_id[:12]}: layer {layer} is not recorded") from err


def _mounts_json(c: Container) -> str:
    return json.dumps([asdict(m) for m in c.mounts])


def _state_json(state: State) -> str:
    return json.dumps({**asdict(state), "status": str(state.status)})


def _container(row: Row) -> Container:
    state: dict[str, Any] = json.loads(row["state"])
    return Container(
        id=row["id"],
        name=row["name"],
        image=row["image"],
        image_id=row["image_id"],
        created=row["created"],
        config=json.loads(row["config"]),
        host_config=json.loads(row["host_config"]),
        mounts=tuple(
            MountPoint(**{**m, "options": tuple(m.get("options", ()))})
            for m in json.loads(row["mounts"])
        ),
        state=State(**{**state, "status": Status(state["status"])}),
        path=row["path"],
        args=tuple(json.loads(row["args"])),
    )
