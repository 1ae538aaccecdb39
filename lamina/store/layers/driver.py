"""The storage driver interface: how layer trees sit on disk and become one rootfs.

The layer store (store.py) owns names, metadata and atomic commits; a driver owns the
two things that differ between overlayfs and plain copies:

- what a layer's directory holds (`apply`): with overlay, only that layer's own diff
  (whiteouts as overlayfs reads them); with copy, the parent's whole tree plus the diff;
- how a chain of layer directories is seen as one filesystem (`mounts`), described as
  `Mount` values and never mounted here, plus the per-container state that view needs
  (`prepare_rw`: empty upper/work dirs for overlay, a full private copy for copy).
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO, Protocol

from lamina.store.archive import ApplyResult
from lamina.store.mount import Mount


class Driver(Protocol):
    name: str  # as `docker info` shows it: "overlay" or "copy"

    def apply(self, parent: Path | None, tar_stream: BinaryIO, dest: Path) -> ApplyResult:
        """Make `dest` (a fresh empty dir) the tree of a new layer on top of `parent`.

        `parent` is the parent layer's tree (None for a base layer) and is only read;
        `tar_stream` is the uncompressed layer tar.
        """
        ...

    def prepare_rw(self, chain: list[Path], upper: Path, work: Path) -> None:
        """Create a container's writable state in `upper`/`work` (caller-owned paths).

        `chain` lists the layer trees, top first. Called once, before the first mount;
        raises Conflict if `upper` already holds something.
        """
        ...

    def mounts(
        self, chain: list[Path], upper: Path, work: Path, *, readonly: bool = False
    ) -> list[Mount]:
        """Describe the view of `chain` (top first) with `upper` as its writable layer.

        With readonly=True the view is of the layers alone and upper/work are unused.
        Pure: nothing is created or mounted.
        """
        ...
