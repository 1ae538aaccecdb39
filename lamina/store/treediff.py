"""What a full tree changes of another: the diff of a copy driver's snapshot.

An overlay upper dir holds only what changed; a copy driver's holds the parent's whole
tree with the changes made in place, so its diff is found by walking both trees side
by side, as containerd's naive snapshotter's differ does. An entry is unchanged when
type, mode, owner, xattrs, link target or device, size and mtime are equal; a regular
file whose mtime has no sub-second part (set by a tool that truncates timestamps) is
compared by content too, since a same-second rewrite would keep all of those.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass

_CHUNK = 1 << 20


@dataclass(frozen=True)
class Change:
    """An entry to write: `rel` (slash-separated, relative to the tree), `path` of the
    new entry (None for a deletion), `st` its lstat. A deletion's `st` says what an
    overlayfs whiteout would: owned by root, dated when its folder last changed, so
    the copy and overlay drivers write the same diff for the same changes."""

    rel: str
    path: str | None
    st: os.stat_result


def changes(lower: str | None, upper: str, prefix: str = "") -> Iterator[Change]:
    """The entries of `upper` that are new or differ from `lower`'s, each directory
    before its entries and with it every directory above a change (so a reader finds
    each parent in the tar), and the entries of `lower` that `upper` no longer has,
    in name order (bytewise, as `write_tar` sorts)."""
    mine = _entries(upper)
    theirs = _entries(lower) if lower is not None else {}
    gone = _whiteout(os.lstat(upper)) if theirs.keys() - mine.keys() else None
    for name in sorted(mine.keys() | theirs.keys(), key=os.fsencode):
        rel = prefix + name
        old = theirs.get(name)
        if name not in mine:
            assert gone is not None
            yield Change(rel, None, gone)
            continue
        new = mine[name]
        st = new.stat(follow_symlinks=False)
        ost = old.stat(follow_symlinks=False) if old is not None else None
        same = ost is not None and _same(ost, st, old.path if old else "", new.path)
        if stat.S_ISDIR(st.st_mode):
            was_dir = ost is not None and stat.S_ISDIR(ost.st_mode)
            below = list(changes(old.path if was_dir and old else None, new.path, rel + "/"))
            if below or not same:
                yield Change(rel, new.path, st)
                yield from below
        elif not same:
            yield Change(rel, new.path, st)


def _whiteout(folder: os.stat_result) -> os.stat_result:
    mtime = int(folder.st_mtime)
    return os.stat_result((stat.S_IFCHR | 0o600, 0, 0, 1, 0, 0, 0, mtime, mtime, mtime))


def _entries(folder: str) -> dict[str, os.DirEntry[str]]:
    with os.scandir(folder) as it:
        return {entry.name: entry for entry in it}


def _same(a: os.stat_result, b: os.stat_result, a_path: str, b_path: str) -> bool:
    if (a.st_mode, a.st_uid, a.st_gid) != (b.st_mode, b.st_uid, b.st_gid):
        return False
    if _xattrs(a_path) != _xattrs(b_path):
        return False
    if stat.S_ISDIR(a.st_mode):
        return a.st_mtime_ns == b.st_mtime_ns
    if (a.st_size, a.st_mtime_ns) != (b.st_size, b.st_mtime_ns):
        return False
    if stat.S_ISLNK(a.st_mode):
        return os.readlink(a_path) == os.readlink(b_path)
    if stat.S_ISCHR(a.st_mode) or stat.S_ISBLK(a.st_mode):
        return a.st_rdev == b.st_rdev
    if stat.S_ISREG(a.st_mode) and a.st_mtime_ns % 1_000_000_000 == 0:
        return _same_bytes(a_path, b_path)
    return True


def _same_bytes(a_path: str, b_path: str) -> bool:
    with open(a_path, "rb") as a, open(b_path, "rb") as b:
        while True:
            chunk = a.read(_CHUNK)
            if chunk != b.read(_CHUNK):
                return False
            if not chunk:
                return True


def _xattrs(path: str) -> dict[str, bytes]:
    try:
        names = os.listxattr(path, follow_symlinks=False)
        return {n: os.getxattr(path, n, follow_symlinks=False) for n in names}
    except OSError:
        return {}
