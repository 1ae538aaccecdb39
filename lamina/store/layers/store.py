"""The layer store: unpacked layers, named by chainID, shared by every image.

Terms
    diff      A layer tar: the files one layer adds, changes or deletes (whiteouts).
    diffID    sha256 of the uncompressed diff tar; says what the layer contains.
    parent    The layer a diff applies on top of (None for a base layer).
    chainID   The layer *with all its parents*: chainID(L0) = diffID(L0),
              chainID(L0..Ln) = sha256(chainID(L0..Ln-1) + " " + diffID(Ln)). Two images
              whose stacks are equal up to Ln share that layer on disk.
    driver    How layer dirs hold their trees and become a rootfs (driver.py): overlay
              (each dir its own diff, stacked by overlayfs) or copy (each a full tree).
    mount description
              A list of `Mount` values saying how to see a chain as one filesystem
              with a writable upper dir. The store returns it; store/mount.py mounts it.

Import a layer
    register(parent, stream) decompresses the stream, has the driver extract it into
    `tmp/<random>/diff` (hashing the tar on the way: the diffID), derives the chainID,
    writes meta.json, syncs, and renames the temp dir to `<chainHex>`; the rename is
    the commit. A layer already present is not stored twice: the copy is discarded.
    A crash leaves a temp dir, which the next LayerStore removes.

Run a container (or a build step)
    prepare(key, parent) makes the active snapshot `key`: in tmp/, an upper and a work
    dir, which the driver fills (nothing for overlay, a private copy of the parent's
    tree for copy), renamed into `active/<key>` whole. It returns the mounts: how to
    see the parent chain with that upper dir on top (a bind of the upper dir alone
    for no parent, FROM scratch). The caller mounts them at its rootfs path with
    store.mount.mount each time it starts, and unmounts on stop; `mounts(key)` answers
    again later. Writes land in the upper dir; layer dirs never change. `remove(key)`
    ends the snapshot; `view(key, parent)` is the read-only kind, with no upper dir
    of its own to write.

Commit a build step
    The diff of an active snapshot is written as a layer tar by `diff(key, out)`
    (the overlay upper dir as it is; for copy, what its tree changes of the parent's);
    the caller stores that blob, then `commit(key, diff_id=, size=)` makes the upper
    dir the layer's tree by one rename (it already is what this driver keeps as a
    layer dir), with no second extraction, and ends the snapshot.

Free a layer
    Only the garbage collector (store/gc.py) removes committed layers, when nothing
    references them: images name their layers, each container names its top chainID
    (which stands on all its parents), in-flight work holds leases. It asks
    `committed()` what is on disk and `with_parents()` what the marked layers stand
    on, `discard()`s each dead one (one rename into tmp/, under its lock) and
    `purge()`s it afterwards. `remove(chainID)` is the one-layer form, for tests and
    tools.

On disk (under `root`, nothing outside it)
    <chainHex>/diff/         the layer's tree, as the driver keeps it
    <chainHex>/meta.json     {"diff_id", "parent", "size", "driver", "short"}
    l/<short> -> ../<chainHex>/diff   short aliases that keep overlay options short
    active/<key>/            active snapshots (active.py): upper, work, snapshot.json
    tmp/                     extractions, new snapshots and removals in flight

Recovery
    A new LayerStore empties tmp/ (half-made layers and snapshots, removals a crash
    interrupted). Active snapshots outlive a daemon (a container's writable layer
    does), so only their holders can say which are dead: at restore the engine calls
    `sweep(held)` with the keys its containers hold, and every other one goes: a
    build's, a removed container's whose removal a crash cut short.
"""

from __future__ import annotations

import builtins
import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from lamina.errors import (
    Conflict,
    DataCorruption,
    FailedPrecondition,
    Internal,
    NotFound,
    map_errors,
)
from lamina.oci.digest import Digest, chain_ids, hex_of, is_digest, is_hex
from lamina.store.archive import open_layer
from lamina.store.durable import fsync_dir, syncfs
from lamina.store.layers.active import ActiveFolder, Kind, Snapshot
from lamina.store.layers.driver import Driver
from lamina.store.mount import Mount
from lamina.store.usage import tree_size

_SHORT_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


@dataclass(frozen=True)
class Layer:
    chain_id: Digest
    diff_id: Digest
    parent: Digest | None  # the parent's chainID
    size: int  # bytes of the uncompressed diff tar


class LayerStore:
    """Registers, finds, describes and removes layers; see the module doc for the lifecycle."""

    def __init__(self, root: Path, driver: Driver) -> None:
        """The store of the layers and snapshots under `root`, kept by `driver`.

        Terms (as containerd's snapshotter)
            committed  A layer: immutable, named by its chainID, shared by every image
                       and snapshot standing on it.
            active     A snapshot in use: a writable upper dir (and overlay's work dir)
                       over a parent, owned by the store under `active/<key>`; a
                       container's root filesystem or a build step's. A view is the
                       read-only kind. Neither is ever a parent: only committed
                       layers are.
            key        The caller's name for an active snapshot or view: a folder
                       name of letters, digits and `_.-` (a container's is
                       `container-<id>`, a build's `build-<hex>`). One key, one
                       snapshot, until `remove(key)` or `commit(key)` ends it.
            parent     The chainID of the committed layer a snapshot stands on; None
                       for a snapshot of no layers (FROM scratch), which starts empty.
        """
        self.root = root
        self.driver = driver
        for path in (root, root / "tmp", root / "l"):
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._active = ActiveFolder(root / "active", root / "tmp")
        self._usage: dict[Digest, int] = {}
        self._recover()

    def register(self, parent: Digest | None, stream: BinaryIO) -> Layer:
        """Store the layer tar in `stream` (gzip or plain) on top of `parent`."""
        parent_dir = self._diff_dir(self.get(parent).chain_id) if parent else None
        tmp = Path(tempfile.mkdtemp(dir=self.root / "tmp"))
        try:
            diff = tmp / "diff"
            diff.mkdir()
            diff.chmod(0o755)  # the tar's "./" entry is not applied; a rootfs root is 0755
            with open_layer(stream) as tar:
                result = self.driver.apply(parent_dir, tar, diff)
            chain_id = chain_ids([parent, result.diff_id])[-1] if parent else result.diff_id
            if not self.exists(chain_id):
                with map_errors({OSError: Internal}, what=f"storing layer {chain_id} failed"):
                    self._commit(tmp, Layer(chain_id, result.diff_id, parent, result.size))
            return self.get(chain_id)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def get(self, chain_id: Digest) -> Layer:
        meta = self._meta(chain_id)
        return Layer(chain_id, meta["diff_id"], meta["parent"], meta["size"])

    def exists(self, chain_id: Digest) -> bool:
        return is_digest(chain_id) and (self._dir(chain_id) / "meta.json").exists()

    def list(self) -> builtins.list[Layer]:
        return [
            self.get(Digest(f"sha256:{entry.name}"))
            for entry in sorted(os.scandir(self.root), key=lambda e: e.name)
            if is_hex(entry.name) and os.path.exists(os.path.join(entry.path, "meta.json"))
        ]

    def chain(self, chain_id: Digest) -> builtins.list[Layer]:
        """The layer and its parents, top first."""
        layers = [self.get(chain_id)]
        while (parent := layers[-1].parent) is not None:
            layers.append(self.get(parent))
        return layers

    def chain_dirs(self, chain_id: Digest) -> builtins.list[Path]:
        """The layers' tree dirs, top first."""
        return [self._diff_dir(layer.chain_id) for layer in self.chain(chain_id)]

    def remove(self, key: str) -> None:
        """End the active snapshot or view `key`; for a chainID, delete that committed
        layer (refused while another layer is built on it: tests and tools; the
        collector frees layers)."""
        if is_digest(key):
            self._remove_layer(Digest(key))
            return
        if not os.path.lexists(self._active.path(key)):
            raise NotFound(f"snapshot {key} not found")
        self._active.drop(key)

    # --- active snapshots ----------------------------------------------------------------

    def prepare(self, key: str, parent: Digest | None) -> builtins.list[Mount]:
        """Make the active snapshot `key` on `parent`; return its mounts (see `mounts`)."""
        chain = self.chain_dirs(parent) if parent else []
        self._active.create(
            key, Kind.ACTIVE, parent, lambda upper, work: self.driver.prepare(chain, upper, work)
        )
        return self.mounts(key)

    def view(self, key: str, parent: Digest | None) -> builtins.list[Mount]:
        """Make the read-only view `key` of `parent`; return its mounts."""
        if parent:
            self.get(parent)  # NotFound before anything is made
        self._active.create(key, Kind.VIEW, parent, lambda _upper, _work: None)
        return self.mounts(key)

    def mounts(self, key: str) -> builtins.list[Mount]:
        """How to see the snapshot `key` (pure: nothing is created or mounted)."""
        snapshot = self._snapshot(key)
        chain = self._short_chain(snapshot.parent) if snapshot.parent else []
        writable = snapshot.kind is Kind.ACTIVE
        if not chain:  # no layers: the (empty) upper dir alone
            return [
                Mount("bind", str(snapshot.upper), options=("rbind", "rw" if writable else "ro"))
            ]
        if writable:
            return self.driver.mounts(chain, snapshot.upper, snapshot.work)
        return self.driver.view(chain)

    def upper(self, key: str) -> Path:
        """Where the active snapshot `key` keeps its writes (whether or not it exists):
        for who writes files there without a mount (a build's COPY) or measures them
        (`SizeRw`)."""
        return self._active.path(key) / "upper"

    def work(self, key: str) -> Path:
        """overlayfs's work dir of the active snapshot `key` (whether or not it exists),
        for `inspect`'s GraphDriver data."""
        return self._active.path(key) / "work"

    def changed(self, key: str) -> bool:
        """Whether the active snapshot `key` changes anything of its parent."""
        snapshot = self._snapshot(key)
        return self.driver.changed(self._parent_dirs(snapshot), snapshot.upper)

    def diff(self, key: str, out: BinaryIO, *, source_date_epoch: int | None = None) -> None:
        """Write the snapshot's changes to its parent to `out` as a deterministic layer tar
        (lamina.store.archive.write_tar's bytes; mtimes clamped to `source_date_epoch`)."""
        snapshot = self._snapshot(key)
        self.driver.diff(
            self._parent_dirs(snapshot), snapshot.upper, out, source_date_epoch=source_date_epoch
        )

    def commit(self, key: str, *, diff_id: Digest, size: int) -> Layer:
        """Make the active snapshot `key` the layer whose diff tar (as `diff` wrote it)
        has `diff_id` and `size`, and end the snapshot. Its upper dir becomes the
        layer's tree by a rename; the caller vouches that the tar is that dir's diff.
        When the layer exists already, the snapshot's files are dropped."""
        snapshot = self._snapshot(key)
        if snapshot.kind is not Kind.ACTIVE:
            raise FailedPrecondition(f"snapshot {key} is a view: only an active one commits")
        parent = snapshot.parent
        chain_id = chain_ids([parent, diff_id])[-1] if parent else diff_id
        if not self.exists(chain_id):
            tmp = Path(tempfile.mkdtemp(dir=self.root / "tmp"))
            try:
                with map_errors({OSError: Internal}, what=f"storing layer {chain_id} failed"):
                    os.rename(snapshot.upper, tmp / "diff")
                    self._commit(tmp, Layer(chain_id, diff_id, parent, size))
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        self.remove(key)
        return self.get(chain_id)

    def has(self, key: str) -> bool:
        """Whether the snapshot `key` exists, made whole (its making or `adopt` done)."""
        return self._active.has(key)

    def active(self) -> builtins.list[str]:
        """The keys of the snapshots in the active folder, made whole or not."""
        return self._active.keys()

    def sweep(self, held: Collection[str]) -> builtins.list[str]:
        """Remove every active snapshot and view whose key is not in `held`, as the
        engine's restore does (see Recovery); returns the keys removed."""
        dead = [key for key in self.active() if key not in held]
        for key in dead:
            self._active.drop(key)
        return dead

    def adopt(self, key: str, parent: Digest | None, *, upper: Path, work: Path) -> None:
        """Make the writable dirs `upper` and `work` (work may be missing) the active
        snapshot `key`, by moving them in: an older lamina kept a container's in
        `containers/<id>/`. Safe to repeat after a crash part way through: what was
        moved already stays, what is missing is made empty."""
        self._active.adopt(key, parent, upper=upper, work=work)

    def usage(self, chain_id: Digest) -> int:
        """Bytes the layer's folder takes, as `system df` counts them (store.usage);
        remembered, since a committed layer never changes."""
        size = self._usage.get(chain_id)
        if size is None:
            size = self._usage[chain_id] = tree_size(self._diff_dir(self.get(chain_id).chain_id))
        return size

    # --- for the collector (store/gc.py) -------------------------------------------

    def committed(self) -> builtins.list[Digest]:
        """The chainIDs of every layer folder on disk, whether anything names it or not."""
        return sorted(
            Digest(f"sha256:{entry.name}") for entry in os.scandir(self.root) if is_hex(entry.name)
        )

    def with_parents(self, chain_ids: Iterable[Digest]) -> set[Digest]:
        """`chain_ids` and every layer they stand on (those present on disk)."""
        found: set[Digest] = set()
        todo = [c for c in chain_ids if c]
        while todo:
            chain_id = todo.pop()
            if chain_id in found or not self.exists(chain_id):
                continue
            found.add(chain_id)
            parent = self._meta(chain_id)["parent"]
            if parent:
                todo.append(Digest(parent))
        return found

    def discard(self, chain_id: Digest) -> Path:
        """Take a layer out of the store at once (one rename into tmp/) and return where
        it went, for `purge` to delete at leisure. No check for children: the collector
        discards only layers nothing stands on. A crash leaves the folder in tmp/, which
        the next LayerStore removes."""
        meta = self._meta(chain_id) if self.exists(chain_id) else {}
        trash = Path(tempfile.mkdtemp(dir=self.root / "tmp"))
        os.rename(self._dir(chain_id), trash / "layer")
        if meta.get("short"):
            (self.root / "l" / meta["short"]).unlink(missing_ok=True)
        self._usage.pop(chain_id, None)
        return trash

    @staticmethod
    def purge(trash: Path) -> int:
        """Delete what `discard` put aside; returns the bytes its tree took (as `usage`)."""
        size = tree_size(trash / "layer" / "diff")
        shutil.rmtree(trash, ignore_errors=True)
        return size

    # --- internals ---------------------------------------------------------------------

    def _remove_layer(self, chain_id: Digest) -> None:
        self.get(chain_id)
        children = [layer.chain_id for layer in self.list() if layer.parent == chain_id]
        if children:
            raise Conflict(f"layer {chain_id} is the parent of {', '.join(children)}")
        # Renamed into tmp/ first so a crash mid-delete leaves nothing half-present.
        self.purge(self.discard(chain_id))

    def _snapshot(self, key: str) -> Snapshot:
        return self._active.get(key)

    def _parent_dirs(self, snapshot: Snapshot) -> builtins.list[Path]:
        return self.chain_dirs(snapshot.parent) if snapshot.parent else []

    def _dir(self, chain_id: Digest) -> Path:
        return self.root / hex_of(chain_id)

    def _diff_dir(self, chain_id: Digest) -> Path:
        return self._dir(chain_id) / "diff"

    def _short_chain(self, chain_id: Digest) -> builtins.list[Path]:
        # One read of each meta.json, which names both the alias and the parent: this
        # is on every container start.
        shorts: builtins.list[Path] = []
        at: Digest | None = chain_id
        while at is not None:
            meta = self._meta(at)
            shorts.append(self.root / "l" / meta["short"])
            at = meta["parent"]
        return shorts

    def _meta(self, chain_id: Digest) -> dict[str, Any]:
        if not self.exists(chain_id):
            raise NotFound(f"layer {chain_id} not found")
        path = self._dir(chain_id) / "meta.json"
        unreadable = f"layer {chain_id}: unreadable {path}"
        with map_errors({(OSError, ValueError): DataCorruption}, what=unreadable):
            meta: dict[str, Any] = json.loads(path.read_text())
        if meta.get("driver") != self.driver.name:
            raise FailedPrecondition(
                f"layer {chain_id} was stored by the {meta.get('driver')} driver, "
                f"but this store uses {self.driver.name}"
            )
        return meta

    def _commit(self, tmp: Path, layer: Layer) -> None:
        short = "".join(secrets.choice(_SHORT_ALPHABET) for _ in range(26))
        meta = {
            "diff_id": layer.diff_id,
            "parent": layer.parent,
            "size": layer.size,
            "driver": self.driver.name,
            "short": short,
        }
        with open(tmp / "meta.json", "w", encoding="utf-8") as f:
            json.dump(meta, f)
            f.flush()
            os.fsync(f.fileno())
        syncfs(tmp)  # the extracted files are on disk before the rename publishes them
        try:
            os.rename(tmp, self._dir(layer.chain_id))
        except OSError:
            if self.exists(layer.chain_id):
                return  # registered concurrently; ours is the duplicate, and is discarded
            raise
        os.symlink(f"../{hex_of(layer.chain_id)}/diff", self.root / "l" / short)
        fsync_dir(self.root)
        fsync_dir(self.root / "l")

    def _recover(self) -> None:
        """Undo what a crash mid-register or mid-remove left behind."""
        for entry in (self.root / "tmp").iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        for link in (self.root / "l").iterdir():
            if not link.exists():
                link.unlink()
        for layer in self.list():
            link = self.root / "l" / self._meta(layer.chain_id)["short"]
            if not link.is_symlink():
                link.symlink_to(f"../{hex_of(layer.chain_id)}/diff")
