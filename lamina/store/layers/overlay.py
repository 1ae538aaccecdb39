"""The overlay driver: each layer dir holds only its own diff; overlayfs stacks them.

Whiteouts are stored as overlayfs reads them (char device 0/0, `trusted.overlay.opaque`),
so a container's rootfs is one overlay mount: the chain as lowerdirs, top first, and
the container's upper/work dirs. The chain paths the store hands us are its short
`l/<id>` aliases (as Docker's overlay2), so the option string stays under a page.
"""

from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

from lamina.errors import Conflict, FailedPrecondition, LaminaError
from lamina.store.archive import ApplyResult, apply_layer
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

    def prepare_rw(self, chain: list[Path], upper: Path, work: Path) -> None:
        if upper.is_dir() and any(upper.iterdir()):
            raise Conflict(f"{upper} is not empty: the container's upper dir was already made")
        # The merged root takes the upper dir's owner and mode, so make it a rootfs root.
        for path in (upper, work):
            path.mkdir(mode=0o755, parents=True, exist_ok=True)
            path.chmod(0o755)

    def mounts(
        self, chain: list[Path], upper: Path, work: Path, *, readonly: bool = False
    ) -> list[Mount]:
        if readonly and len(chain) == 1:
            # overlayfs wants two lowers when there is no upper; one tree is a bind.
            return [Mount("bind", str(chain[0]), options=("rbind", "ro"))]
        lower = f"lowerdir={':'.join(str(p) for p in chain)}"
        paths = [*chain] if readonly else [*chain, upper, work]
        if any(c in str(p) for p in paths for c in _UNSAFE):
            raise FailedPrecondition(f"overlay paths may not contain ',' or ':': {paths}")
        relative = f"lowerdir={':'.join(p.name for p in chain)},upperdir={upper},workdir={work}"
        if len(relative) > _MAX_OPTIONS:
            raise FailedPrecondition(
                f"overlay: {len(chain)} layers do not fit in one mount's options"
            )
        if readonly:
            return [Mount("overlay", "overlay", options=(lower,))]
        return [
            Mount("overlay", "overlay", options=(lower, f"upperdir={upper}", f"workdir={work}"))
        ]


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
