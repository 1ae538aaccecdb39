"""An independent look at a daemon's data root: what is on disk that nothing references.

Reads lamina.db and the folders directly (never the collector's code), so a test can
check the collector against its own account of the references.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from lamina.store.usage import tree_size


@dataclass(frozen=True)
class Audit:
    blobs: set[str]  # every blob on disk, "sha256:<hex>"
    layers: set[str]  # every layer folder on disk, as chainIDs
    stray_blobs: set[str]  # on disk, named by nothing
    stray_layers: set[str]  # on disk, named by nothing
    ingests: list[str]  # entries in content/ingest
    layer_temps: list[str]  # entries in layers/tmp
    stray_snapshots: set[str]  # active snapshots no container holds (layers/active)
    usage: int  # bytes of blobs and layer folders, as `system df` counts them

    @property
    def clean(self) -> bool:
        strays = self.stray_blobs or self.stray_layers or self.stray_snapshots
        return not (strays or self.ingests or self.layer_temps)


def audit(root: Path) -> Audit:
    """What is on disk under `root` and which of it nothing references."""
    blob_dir = root / "content" / "blobs" / "sha256"
    blobs = {f"sha256:{name}" for name in os.listdir(blob_dir)}
    layer_dir = root / "layers"
    layers = {f"sha256:{p.name}" for p in layer_dir.iterdir() if len(p.name) == 64}
    live_blobs, live_layers = _references(root / "lamina.db")
    usage = sum((blob_dir / b[7:]).stat().st_size for b in blobs)
    usage += sum(tree_size(layer_dir / c[7:] / "diff") for c in layers)
    return Audit(
        blobs=blobs,
        layers=layers,
        stray_blobs=blobs - live_blobs,
        stray_layers=layers - live_layers,
        ingests=os.listdir(root / "content" / "ingest"),
        layer_temps=os.listdir(layer_dir / "tmp"),
        stray_snapshots=set(os.listdir(layer_dir / "active")) - _container_snapshots(root),
        usage=usage,
    )


def _container_snapshots(root: Path) -> set[str]:
    db = sqlite3.connect(f"file:{root / 'lamina.db'}?mode=ro", uri=True)
    try:
        return {f"container-{r[0]}" for r in db.execute("SELECT id FROM containers")}
    finally:
        db.close()


def _references(db_path: Path) -> tuple[set[str], set[str]]:
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        blobs = {r[0] for r in db.execute("SELECT id FROM images")}
        blobs |= {r[0] for r in db.execute("SELECT manifest FROM images") if r[0]}
        chains = {r[0] for r in db.execute("SELECT chain_id FROM image_layers")}
        chains |= {r[0] for r in db.execute("SELECT chain_id FROM container_layers")}
        rows = {r[0]: (r[1], r[2]) for r in db.execute("SELECT chain_id, parent, blob FROM layers")}
    finally:
        db.close()
    todo = list(chains)
    while todo:
        parent = rows.get(todo.pop(), (None, None))[0]
        if parent and parent not in chains:
            chains.add(parent)
            todo.append(parent)
    blobs |= {rows[c][1] for c in chains if c in rows and rows[c][1]}
    return blobs, chains
