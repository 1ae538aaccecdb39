"""A target folder with a sentinel beside it, for extracting hostile tars: fixtures
`jail` and `untouched` (which fails a test if anything outside the target changed),
and tar entries built by hand."""

from __future__ import annotations

import os
import stat
import tarfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.tars import apply, build_tar

__all__ = [
    "HOST_NAME",
    "Jail",
    "build_tar",
    "entry",
    "hardlink",
    "symlink",
    "whiteouts_through_symlinks",
]


def entry(
    name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", **attrs: object
) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = 0o777
    info.mtime = 1
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    for key, value in attrs.items():
        setattr(info, key, value)
    return info, data


def symlink(name: str, to: str) -> tuple[tarfile.TarInfo, bytes]:
    return entry(name, tarfile.SYMTYPE, linkname=to)


def hardlink(name: str, to: str) -> tuple[tarfile.TarInfo, bytes]:
    return entry(name, tarfile.LNKTYPE, linkname=to)


def listing(top: Path, skip: Path) -> dict[str, tuple[object, ...]]:
    """Path → (mode, owner, mtime, content or link, xattrs) for everything under `top`."""
    out: dict[str, tuple[object, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = [d for d in dirnames if Path(dirpath, d) != skip]
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            st = path.lstat()
            body: object = path.read_bytes() if stat.S_ISREG(st.st_mode) else None
            if stat.S_ISLNK(st.st_mode):
                body = os.readlink(path)
            xattrs = sorted(os.listxattr(path, follow_symlinks=False))
            out[str(path)] = (
                st.st_mode,
                st.st_uid,
                st.st_gid,
                st.st_mtime_ns,
                st.st_nlink,
                body,
                xattrs,
            )
    return out


@dataclass
class Jail:
    base: Path  # holds the sentinel and the target; compared before and after
    outside: Path  # the sentinel directory
    target: Path  # tmp/<...>/jail/a/b/target: deep, so "../../.." has room to climb

    def apply(self, tar: bytes, whiteouts: str = "delete") -> None:
        apply(tar, self.target, whiteouts)

    def inside(self, path: str) -> Path:
        return self.target / path.lstrip("/")


@pytest.fixture
def jail(tmp_path: Path) -> Jail:
    outside = tmp_path / "outside"
    (outside / "dir").mkdir(parents=True)
    (outside / "secret").write_text("do not touch")
    (outside / "dir" / "file").write_text("nor this")
    os.setxattr(outside / "secret", "user.mark", b"1")
    target = tmp_path / "a" / "b" / "target"
    target.mkdir(parents=True)
    return Jail(tmp_path, outside, target)


# Names a broken extractor would create on the host itself: unique per run, and
# removed in teardown, so a regression fails the test without littering the machine.
HOST_NAME = f"lamina-hostile-{uuid.uuid4().hex[:12]}"
HOST_PATHS = [f"/{HOST_NAME}", f"/etc/{HOST_NAME}", f"/tmp/{HOST_NAME}"]


@pytest.fixture
def untouched(jail: Jail) -> Iterator[Callable[[], None]]:
    """Call at the end of a test: fails if anything outside the target changed."""
    before = listing(jail.base, jail.target)
    assert not any(os.path.lexists(p) for p in HOST_PATHS)

    def check() -> None:
        assert listing(jail.base, jail.target) == before
        assert [p for p in HOST_PATHS if os.path.lexists(p)] == []
        assert not (jail.base / "a" / "escape").exists()

    yield check
    for path in HOST_PATHS:
        if os.path.lexists(path):
            os.unlink(path)


def whiteouts_through_symlinks(jail: Jail) -> bytes:
    """Whiteouts and an opaque marker reached through symlinks that point outside."""
    return build_tar(
        symlink("evil", str(jail.outside)),
        entry("evil/.wh.secret"),
        entry("evil/dir/.wh..wh..opq"),
        symlink("up", "../../.."),
        entry("up/.wh.outside"),
    )
