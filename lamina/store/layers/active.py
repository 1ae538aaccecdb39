"""The active folder: one sub-folder per active snapshot, named by its key.

    active/<key>/snapshot.json   {"kind": "active" | "view", "parent": chainID | null}
    active/<key>/upper/          the writable dir (a view's stays empty: what a view
                                 of no layers shows)
    active/<key>/work/           overlayfs's work dir (unused by the copy driver)

A snapshot is made in the store's tmp/ and renamed here whole, so a crash never leaves
a half-made one under its key; snapshot.json is written last, so a folder without it
is one whose making (or moving in, `adopt`) was interrupted.
"""

from __future__ import annotations

import enum
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lamina.errors import (
    AlreadyExists,
    DataCorruption,
    Internal,
    InvalidArgument,
    NotFound,
    map_errors,
)
from lamina.oci.digest import Digest
from lamina.store.durable import fsync_dir

META = "snapshot.json"
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


class Kind(enum.Enum):
    ACTIVE = "active"  # writable: a container's or a build step's
    VIEW = "view"  # read-only: a build's look at another image's files


@dataclass(frozen=True)
class Snapshot:
    key: str
    kind: Kind
    parent: Digest | None
    dir: Path

    @property
    def upper(self) -> Path:
        return self.dir / "upper"

    @property
    def work(self) -> Path:
        return self.dir / "work"


class ActiveFolder:
    """The `active/` folder of a layer store whose temporary folder is `tmp`."""

    def __init__(self, root: Path, tmp: Path) -> None:
        self.root = root
        self.tmp = tmp
        root.mkdir(mode=0o700, parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    def get(self, key: str) -> Snapshot:
        return read(self.path(key), key)

    def has(self, key: str) -> bool:
        return (self.path(key) / META).exists()

    def keys(self) -> list[str]:
        return sorted(entry.name for entry in os.scandir(self.root))

    def create(
        self,
        key: str,
        kind: Kind,
        parent: Digest | None,
        fill: Callable[[Path, Path], None],
    ) -> None:
        """Make the snapshot `key` in tmp/, `fill(upper, work)` it, rename it in whole."""
        target = self.path(key)
        if os.path.lexists(target):
            raise AlreadyExists(f"snapshot {key} already exists")
        tmp = Path(tempfile.mkdtemp(dir=self.tmp))
        try:
            folder = tmp / "snapshot"
            folder.mkdir(mode=0o700)
            # The merged root takes the upper dir's owner and mode: a rootfs root's.
            for path in (folder / "upper", folder / "work"):
                path.mkdir(mode=0o755)
                path.chmod(0o755)
            fill(folder / "upper", folder / "work")
            write_meta(folder, kind, parent)
            try:
                os.rename(folder, target)
            except OSError as err:
                if os.path.lexists(target):
                    raise AlreadyExists(f"snapshot {key} already exists") from err
                raise Internal(f"making snapshot {key} failed: {err}") from err
            # A container's record follows: its snapshot must outlive a power cut too.
            fsync_dir(self.root)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def adopt(self, key: str, parent: Digest | None, *, upper: Path, work: Path) -> None:
        """See LayerStore.adopt: moved in place, repeatable, the record written last."""
        folder = self.path(key)
        folder.mkdir(mode=0o700, exist_ok=True)
        for source, name in ((upper, "upper"), (work, "work")):
            if source.is_dir() and not (folder / name).exists():
                os.rename(source, folder / name)
            (folder / name).mkdir(mode=0o755, exist_ok=True)
        write_meta(folder, Kind.ACTIVE, parent)
        fsync_dir(self.root)

    def drop(self, key: str) -> None:
        """Remove the folder of `key`, whole or not: out of its name at once (a rename
        into tmp/, which the next store empties), then deleted."""
        trash = Path(tempfile.mkdtemp(dir=self.tmp))
        os.rename(self.path(key), trash / "snapshot")
        shutil.rmtree(trash, ignore_errors=True)


def check_key(key: str) -> str:
    """A key names a folder: letters, digits and `_.-`, never a chainID's `sha256:`."""
    if not _KEY.fullmatch(key):
        raise InvalidArgument(f"invalid snapshot key {key!r}")
    return key


def write_meta(folder: Path, kind: Kind, parent: Digest | None) -> None:
    """Record what `folder` is, last: the record is what makes it a snapshot."""
    tmp = folder / f".{META}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"kind": kind.value, "parent": parent}, f)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, folder / META)
    fsync_dir(folder)


def read(folder: Path, key: str) -> Snapshot:
    path = folder / META
    with map_errors({(OSError, ValueError, KeyError): DataCorruption}, what=f"unreadable {path}"):
        try:
            text = path.read_text(encoding="utf-8")
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f"snapshot {key} not found") from None
        meta = json.loads(text)
        return Snapshot(key, Kind(meta["kind"]), meta["parent"], folder)
