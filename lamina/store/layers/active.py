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
from dataclasses import dataclass
from pathlib import Path

from lamina.errors import DataCorruption, InvalidArgument, NotFound, map_errors
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
    if not path.exists():
        raise NotFound(f"snapshot {key} not found")
    with map_errors({(OSError, ValueError, KeyError): DataCorruption}, what=f"unreadable {path}"):
        meta = json.loads(path.read_text(encoding="utf-8"))
        return Snapshot(key, Kind(meta["kind"]), meta["parent"], folder)
