"""The overlay driver: each layer dir holds only its own diff; overlayfs stacks them.

Whiteouts are stored as overlayfs reads them (char device 0/0, `trusted.overlay.opaque`),
so an active snapshot's view is one overlay mount: the chain as lowerdirs, top first,
and the snapshot's upper/work dirs. The upper dir then holds exactly the snapshot's
diff in the shape this driver stores layers in, so it is written as a tar as it is.
The chain paths the store hands us are its short `l/<id>` aliases (as Docker's
overlay2), so the option string stays under a page.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

from lamina.errors import FailedPrecondition, LaminaError
from lamina.store.archive import ApplyResult, apply_layer, write_tar
from lamina.store.layers.driver import Driver
from lamina.store.mount import Mount, mount, unmount

# mount(2) takes one page of options; mount() falls back to lowerdirs relative to the
# short-link dir when the absolute form is longer, so that form is what must fit.
_MAX_OPTIONS = 4000
_UNSAFE = (",", ":")  # separators in overlay's option syntax


class OverlayDriver(Driver):
    name = "overlay"

    def __init__(self, root: Path) -> None:
        self.root = root

    def supported(self) -> bool:
        """Whether overlayfs works on the filesystem that holds `root` (cached)."""
        return supported(self.root)

    def apply(self, parent: Path | None, tar_stream: BinaryIO, dest: Path) -> ApplyResult:
        return apply_layer(tar_stream, dest, whiteouts="overlay")

    def prepare(self, chain: list[Path], upper: Path, work: Path) -> None:
        """Nothing to fill: overlayfs copies up what is written."""

    def mounts(self, chain: list[Path], upper: Path, work: Path) -> list[Mount]:
        options = (f"upperdir={upper}", f"workdir={work}")
        _check(chain, [upper, work], relative_extra=",".join(options))
        return [Mount("overlay", "overlay", options=(_lowerdir(chain), *options))]

    def view(self, chain: list[Path]) -> list[Mount]:
        if len(chain) == 1:
            # overlayfs wants two lowers when there is no upper; one tree is a bind.
            return [Mount("bind", str(chain[0]), options=("rbind", "ro"))]
        _check(chain, [], relative_extra="")
        return [Mount("overlay", "overlay", options=(_lowerdir(chain),))]

    def diff(
        self, chain: list[Path], upper: Path, out: BinaryIO, *, source_date_epoch: int | None
    ) -> None:
        write_tar(upper, out, whiteouts="overlay", source_date_epoch=source_date_epoch)

    def changed(self, chain: list[Path], upper: Path) -> bool:
        with os.scandir(upper) as entries:
            return next(entries, None) is not None


def _lowerdir(chain: list[Path]) -> str:
    return f"lowerdir={':'.join(str(p) for p in chain)}"


def _check(chain: list[Path], others: list[Path], *, relative_extra: str) -> None:
    """Refuse paths overlay's option syntax cannot carry, and chains whose options do
    not fit one mount even in the short relative form."""
    paths = [*chain, *others]
    if any(c in str(p) for p in paths for c in _UNSAFE):
        raise FailedPrecondition(f"overlay paths may not contain ',' or ':': {paths}")
    relative = f"lowerdir={':'.join(p.name for p in chain)},{relative_extra}"
    if len(relative) > _MAX_OPTIONS:
        raise FailedPrecondition(f"overlay: {len(chain)} layers do not fit in one mount's options")


@functools.cache
def supported(root: Path) -> bool:
    """overlayfs is in the kernel and a test mount works in `root`'s filesystem.

    The probe matters: overlayfs refuses some upper filesystems (another overlay,
    some network filesystems), which /proc/filesystems cannot tell.
    """
    with open("/proc/filesystems", encoding="ascii") as f:
        if not any(line.split()[-1:] == ["overlay"] for line in f):
            return False
    (root / "tmp").mkdir(parents=True, exist_ok=True)
    probe = Path(tempfile.mkdtemp(prefix="overlay-probe-", dir=root / "tmp"))
    try:
        for name in ("lower1", "lower2", "upper", "work", "merged"):
            (probe / name).mkdir()
        chain = [probe / "lower1", probe / "lower2"]
        try:
            view = OverlayDriver(root).mounts(chain, probe / "upper", probe / "work")
            mount(view[0], probe / "merged")
        except LaminaError:
            return False
        unmount(probe / "merged")
        return True
    finally:
        shutil.rmtree(probe, ignore_errors=True)
