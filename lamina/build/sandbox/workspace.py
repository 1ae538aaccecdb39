"""Scratch space for one build step, and the root filesystem views steps work in.

A step that changes files gets an active snapshot of the layer store on its parent
(its upper dir is the step's diff: the layer is committed from it after the rootfs is
unmounted) and `<build>/steps/<id>/`, with `rootfs/`, where the snapshot is mounted
while the step runs. `COPY --from` and `RUN --mount=from=` read other images through
read-only views (snapshots too) mounted under `<build>/trees/`.

Views and WORKDIR's mkdir mount with the host's mounter (`lamina.runtime.mounter`), a
RUN with its runtime's; every mount is undone when its `with` block ends, however it
ends, and `recover` clears what a crashed daemon left here (the engine's restore
sweeps the snapshots: lamina.store.layers.store).
"""

from __future__ import annotations

import contextlib
import os
import queue
import secrets
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

from lamina.errors import FailedPrecondition, NotFound
from lamina.oci.digest import Digest
from lamina.runtime.mounter import HOST, Mounter, mounted
from lamina.store.layers.store import LayerStore
from lamina.store.mount import unmount_all

ID_PREFIX = "build-"


class Trash:
    """Removes directories in a background thread.

    Deleting a step's files costs as much as writing them (each unlink is a journal
    update), and nobody waits for it: a step's dir is renamed into `root` at once,
    which takes it out of every path the build uses, and removed later.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._queue: queue.Queue[Path] = queue.Queue()
        for entry in root.iterdir():  # left by a daemon that stopped before emptying it
            self._queue.put(entry)
        threading.Thread(target=self._empty, name="build-trash", daemon=True).start()

    def put(self, path: Path) -> None:
        target = self.root / secrets.token_hex(8)
        try:
            os.rename(path, target)
        except OSError:
            shutil.rmtree(path, ignore_errors=True)
            return
        self._queue.put(target)

    def _empty(self) -> None:
        while True:
            shutil.rmtree(self._queue.get(), ignore_errors=True)


class Workspace:
    """One step's snapshot and dirs; `id` doubles as the RUN container's name in the
    runtime and as the snapshot's key."""

    def __init__(
        self,
        steps_root: Path,
        layers: LayerStore,
        parent: Digest | None,
        trash: Trash | None = None,
        *,
        mounter: Mounter = HOST,
    ) -> None:
        if layers.driver.name != "overlay":
            raise FailedPrecondition(
                f"building images needs the overlay storage driver (this daemon uses "
                f"{layers.driver.name}): a step's layer is its overlay upper dir"
            )
        self.layers = layers
        self.trash = trash
        self.mounter = mounter  # the runtime's: what mounts the step's root, unmounts it
        self.id = ID_PREFIX + secrets.token_hex(8)
        self.dir = steps_root / self.id
        self.rootfs = self.dir / "rootfs"
        self.mounts = layers.prepare(self.id, parent)
        self.upper = layers.upper(self.id)
        try:
            self.rootfs.mkdir(mode=0o755, parents=True)
        except BaseException:
            layers.remove(self.id)
            raise

    def mounted(self) -> contextlib.AbstractContextManager[Path]:
        """The step's root filesystem mounted at `rootfs` for the `with` block."""
        return mounted(self.mounter, self.mounts, self.rootfs)

    def remove(self) -> None:
        self.mounter.unmount(self.rootfs)  # a no-op after `mounted`; a crash's leftover
        with contextlib.suppress(NotFound):  # committed: the snapshot is a layer now
            self.layers.remove(self.id)
        if self.trash is not None:
            self.trash.put(self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def tree_view(layers: LayerStore, chain_id: Digest | None, trees_root: Path) -> Iterator[Path]:
    """A read-only view of an image's filesystem (an empty one for no layers)."""
    trees_root.mkdir(parents=True, exist_ok=True)
    key = ID_PREFIX + secrets.token_hex(8)
    target = trees_root / key
    target.mkdir(mode=0o755)
    try:
        with mounted(HOST, layers.view(key, chain_id), target):
            yield target
    finally:
        with contextlib.suppress(NotFound):
            layers.remove(key)
        with contextlib.suppress(OSError):
            target.rmdir()


def recover(build_root: Path) -> list[str]:
    """Undo what a crashed daemon's builds left: mounts, step dirs, tree views,
    extracted contexts. Returns the step ids found (their runtime containers may
    need deleting too)."""
    found: list[str] = []
    for sub in ("steps", "trees", "contexts"):
        base = build_root / sub
        if not base.is_dir():
            continue
        for entry in os.scandir(base):
            path = Path(entry.path)
            unmount_all(path / "rootfs" if sub == "steps" else path)
            if sub == "steps":
                found.append(entry.name)
            shutil.rmtree(path, ignore_errors=True)
    return found
