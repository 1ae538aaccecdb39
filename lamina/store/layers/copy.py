"""The copy driver, for hosts without overlayfs: every layer dir holds a full tree.

A layer is its parent's tree copied, then the diff applied with whiteouts as plain
deletions. An active snapshot's upper dir is its own full copy of the top layer, seen
through a bind mount; its diff is found by comparing it with that layer (treediff).
Costly in disk and time, but it needs nothing from the kernel beyond bind mounts, which
is why Docker keeps the same thing as "vfs".
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import BinaryIO

from lamina.errors import Internal
from lamina.store import treediff
from lamina.store.archive import ApplyResult, apply_layer, write_changes
from lamina.store.layers.driver import Driver
from lamina.store.mount import Mount


class CopyDriver(Driver):
    name = "copy"

    def __init__(self, root: Path) -> None:
        self.root = root

    def supported(self) -> bool:
        return True

    def apply(self, parent: Path | None, tar_stream: BinaryIO, dest: Path) -> ApplyResult:
        if parent is not None:
            copy_tree(parent, dest)
        return apply_layer(tar_stream, dest, whiteouts="delete")

    def prepare(self, chain: list[Path], upper: Path, work: Path) -> None:
        if chain:
            copy_tree(chain[0], upper)

    def mounts(self, chain: list[Path], upper: Path, work: Path) -> list[Mount]:
        return [Mount("bind", str(upper), options=("rbind", "rw"))]

    def view(self, chain: list[Path]) -> list[Mount]:
        return [Mount("bind", str(chain[0]), options=("rbind", "ro"))]

    def diff(
        self, chain: list[Path], upper: Path, out: BinaryIO, *, source_date_epoch: int | None
    ) -> None:
        lower = chain[0] if chain else None
        write_changes(lower, upper, out, source_date_epoch=source_date_epoch)

    def changed(self, chain: list[Path], upper: Path) -> bool:
        lower = str(chain[0]) if chain else None
        return next(treediff.changes(lower, str(upper)), None) is not None


def copy_tree(src: Path, dest: Path) -> None:
    """Copy the tree under `src` into the existing dir `dest`, `src`'s own attributes too.

    GNU cp -a keeps what a rootfs needs: owners, modes (setuid too), mtimes, xattrs,
    symlinks, hard links within the tree and device nodes; reflinks make it cheap where
    the filesystem can share extents.
    """
    argv = ["cp", "-a", "--reflink=auto", "--", f"{src}/.", str(dest)]
    try:
        subprocess.run(argv, check=True, capture_output=True)
    except subprocess.CalledProcessError as err:
        detail = err.stderr.decode(errors="replace").strip()
        raise Internal(f"copying {src} to {dest} failed: {detail}") from err
    except FileNotFoundError as err:
        raise Internal("the copy driver needs cp (GNU coreutils)") from err
