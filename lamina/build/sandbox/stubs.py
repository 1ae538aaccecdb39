"""Mount points a RUN step needs but the image lacks, kept out of the step's layer.

runc creates a missing mount destination (`/etc/resolv.conf`, a `--mount` target,
`/proc` in an image without one) in the root filesystem, so it would land in the
step's upper dir and become image content. As BuildKit's MountStubsCleaner does, we
note which destinations were missing before the run, remove them afterwards if they
are still empty, and restore their parent directories' times. A parent that existed
below was copied up by overlayfs only to hold the stub; `prune_copied_up` removes it
from the upper dir when it is empty and its metadata equals the layer's below, so a
`RUN true` adds no layer.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lamina.errors import InvalidArgument
from lamina.store.rootpath import resolve_in_root

_OPAQUE = "trusted.overlay.opaque"


@dataclass
class MountStubs:
    rootfs: Path
    created: list[str] = field(default_factory=list)  # image paths runc will create
    parents: dict[str, tuple[int, int]] = field(default_factory=dict)  # path → (atime, mtime)

    def record(self, destinations: Iterable[str]) -> None:
        """Call before the run: remember which destinations do not exist yet."""
        for dest in destinations:
            path = _clean(dest)
            for missing in _missing_prefixes(self.rootfs, path):
                if missing not in self.created:
                    self.created.append(missing)
                parent = posixpath.dirname(missing)
                host = _host(self.rootfs, parent)
                if host is not None and parent not in self.parents:
                    st = os.lstat(host)
                    self.parents[parent] = (st.st_atime_ns, st.st_mtime_ns)

    def remove(self) -> None:
        """Call after the run, with the rootfs still mounted: deepest first."""
        for path in sorted(self.created, key=lambda p: p.count("/"), reverse=True):
            host = _host(self.rootfs, path)
            if host is None:
                continue
            with contextlib.suppress(OSError):
                st = os.lstat(host)
                if stat.S_ISDIR(st.st_mode):
                    os.rmdir(host)  # fails, and stays, if the step put files in it
                elif stat.S_ISREG(st.st_mode) and st.st_size == 0:
                    os.unlink(host)
        for parent, (atime, mtime) in self.parents.items():
            host = _host(self.rootfs, parent)
            if host is not None:
                with contextlib.suppress(OSError):
                    os.utime(host, ns=(atime, mtime), follow_symlinks=False)


def prune_copied_up(upper: Path, lowers: Sequence[Path], paths: Iterable[str]) -> None:
    """Remove dirs of `upper` (image paths, deepest first) that hold nothing and only
    repeat the same dir below (`lowers`, top first); their ancestors too."""
    todo = sorted(
        {a for p in paths for a in _ancestors(p)}, key=lambda p: p.count("/"), reverse=True
    )
    for path in todo:
        here = upper / path.lstrip("/")
        try:
            st = os.lstat(here)
            if not stat.S_ISDIR(st.st_mode) or os.listdir(here) or _opaque(here):
                continue
        except OSError:
            continue
        below = _lower_entry(lowers, path)
        if below is not None and _same_dir(st, below):
            with contextlib.suppress(OSError):
                os.rmdir(here)


def _missing_prefixes(rootfs: Path, path: str) -> list[str]:
    """`path` and its ancestors that do not exist in the image, shallowest first."""
    missing: list[str] = []
    current = path
    while current != "/" and _host(rootfs, current) is None:
        missing.append(current)
        current = posixpath.dirname(current)
    return missing[::-1]


def _host(rootfs: Path, path: str) -> str | None:
    """The existing host path for an image path (parents resolved in the image)."""
    try:
        parent = resolve_in_root(rootfs, posixpath.dirname(path))
    except InvalidArgument:
        return None
    host = os.path.join(parent, posixpath.basename(path)) if path != "/" else str(rootfs)
    return host if os.path.lexists(host) else None


def _clean(path: str) -> str:
    # normpath keeps a leading "//" (POSIX allows it a meaning); image paths have none.
    return "/" + posixpath.normpath(path).lstrip("/")


def _ancestors(path: str) -> list[str]:
    out = []
    current = _clean(path)
    while current != "/":
        out.append(current)
        current = posixpath.dirname(current)
    return out


def _lower_entry(lowers: Sequence[Path], path: str) -> os.stat_result | None:
    for lower in lowers:
        with contextlib.suppress(OSError):
            return os.lstat(lower / path.lstrip("/"))
    return None


def _same_dir(a: os.stat_result, b: os.stat_result) -> bool:
    return (
        stat.S_ISDIR(b.st_mode)
        and (a.st_mode, a.st_uid, a.st_gid) == (b.st_mode, b.st_uid, b.st_gid)
        and a.st_mtime_ns == b.st_mtime_ns
    )


def _opaque(path: Path) -> bool:
    try:
        return os.getxattr(path, _OPAQUE, follow_symlinks=False) == b"y"
    except OSError:
        return False
