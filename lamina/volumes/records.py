"""Volume records: the `volumes` rows, and the only code that reads or writes them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from lamina.store.metadata import Metadata, Row


@dataclass(frozen=True)
class VolumeRow:
    name: str
    driver: str
    created: float
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    populated: float | None = None  # when copy_up first filled it with image content


class VolumeRecords:
    def __init__(self, db: Metadata) -> None:
        self.db = db

    def get(self, name: str) -> VolumeRow | None:
        row = self.db.one("SELECT * FROM volumes WHERE name = ?", (name,))
        return _volume(row) if row else None

    def all(self) -> list[VolumeRow]:
        return [_volume(r) for r in self.db.query("SELECT * FROM volumes ORDER BY name")]

    def insert(self, row: VolumeRow) -> None:
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO volumes (name, driver, created, labels, options, populated) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    row.name,
                    row.driver,
                    row.created,
                    json.dumps(row.labels, sort_keys=True),
                    json.dumps(row.options, sort_keys=True),
                    row.populated,
                ),
            )

    def delete(self, name: str) -> None:
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM volumes WHERE name = ?", (name,))

    def mark_populated(self, name: str, when: float) -> None:
        with self.db.transaction() as tx:
            tx.execute("UPDATE volumes SET populated = ? WHERE name = ?", (when, name))


def _volume(row: Row) -> VolumeRow:
    return VolumeRow(
        name=row["name"],
        driver=row["driver"],
        created=row["created"],
        labels=json.loads(row["labels"]),
        options=json.loads(row["options"]),
        populated=row["populated"],
    )
