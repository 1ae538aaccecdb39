"""Scratch space for one build step, and the root filesystem views steps work in.

A step that changes files gets `<build>/steps/<id>/` with `upper/` and `work/` (its
overlay layer) and `rootfs/`, where the parent image with that upper dir on top is
mounted while the step runs. The upper dir is the step's diff: the layer is made from
it after the rootfs is unmounted. `COPY --from` and `RUN --mount=from=` read other
images through read-only views under `<build>/trees/`.

Mounting goes through `lamina.store.mount`; every mount made here is undone when its
`with` block ends, however it ends, and `recover` clears what a crashed daemon left.
"""

from __future__ import annotations

import contextlib
import os
import queue
import secrets
import shutil
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from lamina.errors import FailedPrecondition
from lamina.oci.digest import Digest
from lamina.store.layers.store import LayerStore
from lamina.store.mount import Mount, mount, unmount_all

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
    """One step's dirs; `id` doubles as the RUN container's name in the runtime."""

    def __init__(self, steps_root: Path, trash: Trash | None = None) -> None:
        self.trash = trash
        self.id = ID_PREFIX + secrets.token_hex(8)
        self.dir = steps_root / self.id
        self.upper = self.dir / "upper"
        self.work = self.dir / "work"
        self.rootfs = self.dir / "rootfs"
        for path in (self.upper, self.work, self.rootfs):
            path.mkdir(mode=0o755, parents=True)
        # The merged root takes the upper dir's mode, so make it a rootfs root's.
        self.upper.chmod(0o755)

    def remove(self) -> None:
        unmount_all(self.rootfs)
        if self.trash is not None:
            self.trash.put(self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


def rootfs_mounts(layers: LayerStore, chain_id: Digest | None, space: Workspace) -> list[Mount]:
    """The parent chain with the step's upper dir on top (a bind of it for scratch)."""
    if layers.driver.name != "overlay":
        raise FailedPrecondition(
            f"building images needs the overlay storage driver (this daemon uses "
            f"{layers.driver.name}): a step's layer is its overlay upper dir"
        )
    if chain_id is None:
        return [Mount("bind", str(space.upper), options=("rbind", "rw"))]
    return layers.mounts(chain_id, space.upper, space.work)


@contextlib.contextmanager
def mounted(mounts: Sequence[Mount], target: Path) -> Iterator[Path]:
    """Mount `mounts` at `target` for the `with` block; always unmounted after."""
    try:
        for m in mounts:
            mount(m, target)
        yield target
    finally:
        unmount_all(target)


@contextlib.contextmanager
def tree_view(layers: LayerStore, chain_id: Digest | None, trees_root: Path) -> Iterator[Path]:
    """A read-only view of an image's filesystem (an empty dir for no layers)."""
    trees_root.mkdir(parents=True, exist_ok=True)
    target = trees_root / secrets.token_hex(8)
    target.mkdir(mode=0o755)
    try:
        if chain_id is None:
            yield target
            return
        dummy = trees_root / "unused"  # readonly views take no upper dir
        with mounted(layers.mounts(chain_id, dummy, dummy, readonly=True), target):
            yield target
    finally:
        unmount_all(target)
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
