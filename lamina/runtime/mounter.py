"""Where a runtime's root filesystems are mounted: the `Mounter` a runtime carries.

The layer store describes a root filesystem as `Mount` values; a mounter puts them at a
target and takes them away. `HOST` mounts in the host's mount namespace through
`lamina.store.mount` (the one module that calls mount(2)), as Docker does, so `cp`,
`export` and volume copy-up see a running container's files.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

from lamina.store import mount as host
from lamina.store.mount import Mount


class Mounter(Protocol):
    def mount(self, mounts: Sequence[Mount], target: Path) -> None:
        """Mount `mounts`, in order, at the existing folder `target`."""
        ...

    def unmount(self, target: Path) -> None:
        """Unmount whatever is stacked on `target`; nothing there is fine."""
        ...

    def is_mounted(self, target: Path) -> bool: ...


class HostMounter:
    def mount(self, mounts: Sequence[Mount], target: Path) -> None:
        for m in mounts:
            host.mount(m, target)

    def unmount(self, target: Path) -> None:
        host.unmount_all(target)

    def is_mounted(self, target: Path) -> bool:
        return host.is_mounted(target)


HOST = HostMounter()


@contextlib.contextmanager
def mounted(mounter: Mounter, mounts: Sequence[Mount], target: Path) -> Iterator[Path]:
    """`mounts` at `target` for the `with` block; always unmounted after."""
    try:
        mounter.mount(mounts, target)
        yield target
    finally:
        mounter.unmount(target)
