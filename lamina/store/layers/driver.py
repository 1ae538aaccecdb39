"""The storage driver interface: how layer trees sit on disk and become one rootfs.

The layer store (store.py) owns names, metadata, atomic commits and the folders of
active snapshots; a driver owns what differs between overlayfs and plain copies:

- what a layer's directory holds (`apply`): with overlay, only that layer's own diff
  (whiteouts as overlayfs reads them); with copy, the parent's whole tree plus the diff;
- what an active snapshot's upper dir starts as (`prepare`: empty for overlay, a full
  private copy of the parent for copy), and so what it holds once written: with
  overlay, the diff as `apply` would have stored it; with copy, the full tree. Either
  way it is what a committed layer's dir holds, which is why a commit is a rename;
- how a chain of layer directories is seen as one filesystem (`mounts`, `view`),
  described as `Mount` values and never mounted here;
- how an upper dir's changes are written as a layer tar (`diff`, `changed`).

Every `chain` is a list of layer trees, top first. It is empty for a snapshot of no
layers (FROM scratch) in `prepare`, `diff` and `changed`; `mounts` and `view` are never
asked about no layers: the store shows such a snapshot's upper dir by a bind mount.
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

    def prepare(self, chain: list[Path], upper: Path, work: Path) -> None:
        """Fill the fresh, empty dirs `upper` and `work` of a new active snapshot."""
        ...

    def mounts(self, chain: list[Path], upper: Path, work: Path) -> list[Mount]:
        """Describe the writable view of `chain` with `upper` on top (pure)."""
        ...

    def view(self, chain: list[Path]) -> list[Mount]:
        """Describe a read-only view of `chain` (pure)."""
        ...

    def diff(
        self, chain: list[Path], upper: Path, out: BinaryIO, *, source_date_epoch: int | None
    ) -> None:
        """Write what `upper` changes of `chain` as a deterministic layer tar."""
        ...

    def changed(self, chain: list[Path], upper: Path) -> bool:
        """Whether `upper` changes anything of `chain` (its diff would not be empty)."""
        ...
