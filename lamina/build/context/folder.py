"""The build context: a folder the daemon reads in place, filtered by .dockerignore.

When the CLI runs on the daemon's host, the daemon reads the user's folder directly
instead of receiving a tar; a tar context is first extracted to a temporary folder and
then read the same way. Paths inside the context ("relpaths") are `/`-separated and
relative to its root, "" being the root itself.

Walking never follows symlinks (they are entries with a target); `resolve` follows them
the way COPY follows a source path: inside the root, as if the root were `/`.

Reading in place has one race a tar upload does not: a file edited while a build runs
may be copied in a newer state than the one its checksum saw. The executor copies what
the selected copies name; the next build sees the edit and misses.

A `Selection` is what a COPY/ADD cache key needs of some entries: one checksum over,
per entry in order, its name, type, mode (permission, setuid/setgid/sticky bits), uid,
gid, link target and content digest. Not mtime: like BuildKit's cache checksum, only
what can change the copied result counts, so touching a file or moving the whole
context to another folder keeps every key.
"""

from __future__ import annotations

import enum
import hashlib
import operator
import os
import stat
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import NamedTuple

from lamina.build.context.ignore import IgnoreMatcher, MatchState, go_clean
from lamina.build.context.statcache import StatCache, StatKey
from lamina.errors import InvalidArgument
from lamina.oci.digest import Digest
from lamina.store.rootpath import resolve_relative

_CHECKSUM_VERSION = b"lamina-selection-v1\0"


class EntryType(enum.StrEnum):
    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    HARDLINK = "hardlink"  # only in selections: a second name of a file already selected
    CHAR = "char"
    BLOCK = "block"
    FIFO = "fifo"
    SOCKET = "socket"


_TYPES = {
    stat.S_IFREG: EntryType.FILE,
    stat.S_IFDIR: EntryType.DIR,
    stat.S_IFLNK: EntryType.SYMLINK,
    stat.S_IFCHR: EntryType.CHAR,
    stat.S_IFBLK: EntryType.BLOCK,
    stat.S_IFIFO: EntryType.FIFO,
    stat.S_IFSOCK: EntryType.SOCKET,
}


class Entry(NamedTuple):
    """One file, directory, symlink or device in a context, as lstat saw it."""

    relpath: str
    type: EntryType
    mode: int  # permission bits plus setuid/setgid/sticky (stat.S_IMODE)
    uid: int
    gid: int
    size: int
    link_target: str  # symlinks only
    inode: int
    dev: int
    nlink: int
    rdev: int  # devices only
    mtime_ns: int
    ctime_ns: int

    @property
    def stat_key(self) -> StatKey:
        return _stat_key(self)  # type: ignore[no-any-return]


# (size, mtime_ns, ctime_ns, inode, dev) in C: a property per file shows in profiles.
_stat_key = operator.itemgetter(5, 11, 12, 7, 8)


@dataclass(frozen=True)
class Selection:
    """The checksum of selected entries, and what each entry contributed to it.

    `files` maps each name to "<type> <mode> <uid>:<gid> <content digest prefix or
    link target>" for `lamina.build.cache.explain`. It is derived on first use: a
    no-op rebuild only compares checksums and never needs it.
    """

    checksum: Digest
    records: tuple[str, ...] = field(repr=False, compare=False)

    @cached_property
    def files(self) -> Mapping[str, str]:
        files: dict[str, str] = {}
        for record in self.records:
            name, kind, mode, owner, extra, digest, _ = record.split("\0")
            files[name] = f"{kind} {int(mode, 8):04o} {owner} {digest[7:23] if digest else extra}"
        return files


class BuildContext:
    """A context folder read in place; see the module docstring.

    `reset_ownership` reports every entry as owned by 0:0, which is what the docker CLI
    sends BuildKit (its `resetUIDAndGID`); off by default, so a chown changes checksums.
    """

    def __init__(
        self,
        root: Path,
        ignore: IgnoreMatcher | None = None,
        *,
        stat_cache: StatCache | None = None,
        reset_ownership: bool = False,
    ) -> None:
        self.root = root
        self._root = os.fspath(root.resolve())
        self._prefix = self._root.rstrip("/") + "/"
        self.ignore = ignore or IgnoreMatcher()
        self.stat_cache = stat_cache or StatCache(None)
        self._reset_ownership = reset_ownership

    def abspath(self, relpath: str) -> str:
        """The host path of a clean relpath (no symlinks are followed)."""
        return self._prefix + relpath if relpath else self._root

    def walk(self, relpath: str = "") -> Iterator[Entry]:
        """`relpath`'s own entry, then everything below it, sorted by name, depth first.

        Ignored entries are skipped. An ignored directory is still searched when an
        exception could re-include something in it, and is yielded (before its
        contents) only if something is.
        """
        relpath = clean_relpath(relpath)
        top = self._lstat(relpath)
        if top is None:
            return iter(())
        excluded, state = self.ignore.state(relpath)
        if excluded and not (top.type is EntryType.DIR and self.ignore.may_include_below(relpath)):
            return iter(())
        out: list[Entry] = [] if excluded else [top]
        pending: list[Entry] = [top] if excluded else []
        if top.type is EntryType.DIR:
            self._walk_dir(relpath, state, pending, out)
        return iter(out)

    def lstat(self, relpath: str) -> Entry | None:
        """The entry at `relpath` if the context has it (not ignored, or an ignored
        directory that something re-included lives in); the last component is not
        followed."""
        relpath = clean_relpath(relpath)
        if not self.ignore.state(relpath)[0]:
            return self._lstat(relpath)
        return next(self.walk(relpath), None)

    def resolve(self, relpath: str) -> str:
        """Follow symlinks in `relpath`, last component included, never leaving the root:
        an absolute target starts again at the root and `..` stops there."""
        return resolve_relative(self._root, clean_relpath(relpath))

    def checksum(self, relpath: str = "") -> Selection:
        """The selection of `relpath` and everything below it, named by relpath."""
        return self.select([(entry.relpath, entry) for entry in self.walk(relpath)])

    def select(self, items: Sequence[tuple[str, Entry]]) -> Selection:
        """Checksum `items` (name, entry) in the given order (see `Selection`)."""
        files = [entry for _, entry in items if entry.type is EntryType.FILE]
        root = self._prefix
        digests = self.stat_cache.digests([(root + e.relpath, _stat_key(e)) for e in files])
        content = {entry.relpath: digest for entry, digest in zip(files, digests, strict=True)}
        return _selection(items, content)

    def _lstat(self, relpath: str) -> Entry | None:
        path = self.abspath(relpath)
        try:
            st = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as err:
            raise InvalidArgument(f"cannot stat {relpath or '.'}: {err.strerror}") from err
        return self._entry(relpath, path, st)

    def _entry(self, relpath: str, path: str, st: os.stat_result) -> Entry:
        kind = _TYPES.get(stat.S_IFMT(st.st_mode), EntryType.FILE)
        link = os.readlink(path) if kind is EntryType.SYMLINK else ""
        uid, gid = (0, 0) if self._reset_ownership else (st.st_uid, st.st_gid)
        mode = stat.S_IMODE(st.st_mode)
        if not relpath:
            # The root's own mode and owner say where the folder lives (a 0700 temp dir,
            # a layer directory), not what the project is; BuildKit's receiver creates
            # its root itself. Fixed, so the same tree anywhere has the same checksum.
            mode, uid, gid = 0o755, 0, 0
        return Entry(
            relpath, kind, mode, uid, gid, st.st_size, link, st.st_ino, st.st_dev,
            st.st_nlink, st.st_rdev, st.st_mtime_ns, st.st_ctime_ns,
        )  # fmt: skip

    def _walk_dir(
        self, reldir: str, state: MatchState | None, pending: list[Entry], out: list[Entry]
    ) -> None:
        # Hot path (every context file passes here once): keep per-entry work minimal.
        try:
            with os.scandir(self.abspath(reldir)) as scan:
                children = sorted(scan, key=_name)
        except PermissionError:
            if pending and pending[-1].relpath == reldir:
                return  # excluded anyway: fsutil skips it too
            raise InvalidArgument(f"cannot read {reldir or '.'}: permission denied") from None
        except OSError as err:
            raise InvalidArgument(f"cannot read {reldir or '.'}: {err.strerror}") from err
        prefix = reldir + "/" if reldir else ""
        matcher = self.ignore if self.ignore else None
        child_state = None
        for child in children:
            rel = prefix + child.name
            st = child.stat(follow_symlinks=False)
            is_dir = stat.S_ISDIR(st.st_mode)
            if matcher is not None:
                excluded, child_state = matcher.match_state(rel, state)
                if excluded:
                    if is_dir and matcher.may_include_below(rel):
                        self._walk_excluded(rel, child.path, st, child_state, pending, out)
                    continue
            if pending:
                out.extend(pending)
                pending.clear()
            out.append(self._entry(rel, child.path, st))
            if is_dir:
                self._walk_dir(rel, child_state, pending, out)

    def _walk_excluded(
        self,
        rel: str,
        path: str,
        st: os.stat_result,
        state: MatchState,
        pending: list[Entry],
        out: list[Entry],
    ) -> None:
        entry = self._entry(rel, path, st)
        pending.append(entry)
        self._walk_dir(rel, state, pending, out)
        if pending and pending[-1] is entry:
            pending.pop()  # nothing inside was re-included


def _name(entry: os.DirEntry[str]) -> str:
    return entry.name


def clean_relpath(path: str) -> str:
    """A relpath from a user's path: cleaned, a leading `/` meaning the context root.

    `..` may not climb above the root: InvalidArgument.
    """
    cleaned = go_clean(path)
    if cleaned == ".." or cleaned.startswith("../"):
        raise InvalidArgument(f"forbidden path outside the build context: {path}")
    return "" if cleaned in (".", "/") else cleaned.lstrip("/")


def _selection(items: Sequence[tuple[str, Entry]], content: Mapping[str, str]) -> Selection:
    records: list[str] = []
    first_name: dict[tuple[int, int], str] = {}  # (dev, inode) of multiply-linked files
    for name, entry in items:
        kind, extra, digest = entry.type, entry.link_target, content.get(entry.relpath, "")
        if kind is EntryType.FILE and entry.nlink > 1:
            # Copies keep hard links within one COPY, so a link is part of the result.
            first = first_name.setdefault((entry.dev, entry.inode), name)
            if first != name:
                kind, extra, digest = EntryType.HARDLINK, first, ""
        elif kind in (EntryType.CHAR, EntryType.BLOCK):
            extra = f"{os.major(entry.rdev)}:{os.minor(entry.rdev)}"
        owner = f"{entry.uid}:{entry.gid}"
        # NUL cannot occur in a name, a link target or the other fields: unambiguous.
        records.append(f"{name}\0{kind}\0{entry.mode:o}\0{owner}\0{extra}\0{digest}\0")
    h = hashlib.sha256(_CHECKSUM_VERSION)
    h.update("".join(records).encode("utf-8", "surrogateescape"))
    return Selection(Digest(f"sha256:{h.hexdigest()}"), tuple(records))
