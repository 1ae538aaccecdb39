"""Applying a COPY/ADD's copies: writing the step's diff straight into its upper dir.

No overlay mount is written through (creating a file through overlayfs costs about
twice what it costs on the upper filesystem). Instead the image below is looked at
through a read-only view (`view`), and the copier does what overlayfs would: a
directory of the image that receives new entries is first created in the upper dir
with the same owner, mode, times and xattrs ("copied up"), so the two merge; a file
of the image is shadowed by the new one. A path the view shows as a directory cannot
become a file, as in Docker.

Destinations are image paths: each parent is resolved in the view (symlinks of the
image followed as if the view were `/`), missing ones are created (0755, owned by the
`--chown` owner or root, as BuildKit does), and the last component is never followed.
Files keep their content, mode and mtime; owners are the `--chown` owner, else the
source's (0:0 for the build context, read as the docker CLI sends it). Hard links
within one COPY stay links. Directory times are set last, since adding entries to a
directory changes them.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import posixpath
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, cast

from lamina.build.context.folder import Entry, EntryType
from lamina.build.copy.links import FileKey, LinkIndex
from lamina.build.copy.select import Copies, CopyItem
from lamina.errors import Cancelled, InvalidArgument
from lamina.store.archive import WHITEOUT_PREFIX, apply_layer
from lamina.store.rootpath import resolve_in_root

_CHECK_EVERY = 256  # items between looks at the cancel flag
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_OVERLAY_XATTRS = "trusted.overlay."
_MAGIC: list[tuple[bytes, Callable[[BinaryIO], BinaryIO]]] = [
    (b"\x1f\x8b", lambda f: cast(BinaryIO, gzip.GzipFile(fileobj=f))),
    (b"BZh", lambda f: cast(BinaryIO, bz2.BZ2File(f))),
    (b"\xfd7zXZ\x00", lambda f: cast(BinaryIO, lzma.LZMAFile(f))),  # noqa: SIM115
]

Owner = tuple[int, int]


def apply_copies(
    copies: Copies,
    upper: Path,
    *,
    view: Path | None,
    owner: Owner | None,
    cancelled: Callable[[], bool] = lambda: False,
    index: LinkIndex | None = None,
) -> list[tuple[FileKey, str]]:
    """Copy every item of `copies` into `upper`, over the image seen at `view` (None:
    over nothing). `owner` is the resolved --chown. Files found in `index` are hard
    links to a layer's copy; returns the files written, for the index once committed."""
    copier = _Copier(upper, view, owner, copies.chmod, index)
    digests = _digests(copies)
    for i, item in enumerate(copies.items):
        if i % _CHECK_EVERY == 0 and cancelled():
            raise Cancelled("build cancelled")
        try:
            copier.copy(item, digests[i])
        except FileNotFoundError as err:
            raise InvalidArgument(
                f"{item.source}: vanished from the build context while copying"
            ) from err
    copier.finish()
    return copier.written


def _digests(copies: Copies) -> list[str]:
    """Each item's content digest, from the selection's checksum records (same order)."""
    records = copies.selection.records
    if len(records) != len(copies.items):
        return [""] * len(copies.items)
    return [record.split("\0")[5] for record in records]


class _Copier:
    def __init__(
        self,
        upper: Path,
        view: Path | None,
        owner: Owner | None,
        chmod: int | None,
        index: LinkIndex | None,
    ) -> None:
        self.index = index
        self.linked: set[str] = set()  # layer files linked by this COPY
        self.written: list[tuple[FileKey, str]] = []
        self.upper = os.fspath(upper)
        self.view = view
        self.owner = owner
        self.chmod = chmod
        self.dirs: dict[str, str] = {"/": ""}  # image dir → its resolved relative path
        # The upper dir starts empty, so what this COPY made there is all it holds:
        # rel dir → {name: is a dir}. With `below` (the image's names per dir) no path
        # needs an lstat to know what is in the way.
        self.made: dict[str, dict[str, bool]] = {}
        self.below: dict[str, frozenset[str]] = {}
        self.links: dict[tuple[int, int], str] = {}
        self.times: list[tuple[str, int]] = []  # dirs whose mtime is set at the end

    def copy(self, item: CopyItem, digest: str) -> None:
        if item.extract:
            target = self._join(self.ensure_dir(item.dest))
            _extract(item.source, target)
            return
        if item.dest == "/":
            return  # the root keeps its own attributes
        name = posixpath.basename(item.dest)
        if name.startswith(WHITEOUT_PREFIX):
            raise InvalidArgument(
                f"cannot copy to {item.dest}: names starting with {WHITEOUT_PREFIX} cannot be "
                "stored in an image layer (the OCI image format reserves them for deletions)"
            )
        if item.entry.type is EntryType.DIR:
            # Resolved whole: a destination that is a symlink to a dir is copied into.
            path = self._join(self.ensure_dir(item.dest))
            self.set_owner_mode(path, item.entry)
            self.times.append((path, item.entry.mtime_ns))
            return
        parent = self.ensure_dir(posixpath.dirname(item.dest))
        path = self._join(f"{parent}/{name}" if parent else name)
        made = self.made.setdefault(parent, {})
        mine = made.get(name)
        if mine is True or (mine is None and self._dir_below(parent, name)):
            raise InvalidArgument(f"cannot replace directory {item.dest} with a file")
        if mine is False:
            os.unlink(path)
        self.make_node(item, path, digest)
        made[name] = False

    def make_node(self, item: CopyItem, path: str, digest: str) -> None:
        entry = item.entry
        if entry.type is EntryType.FILE:
            first = self.links.get((entry.dev, entry.inode)) if entry.nlink > 1 else None
            if first is not None:
                os.link(first, path)
                return
            if entry.nlink > 1:
                self.write_file(item.source, path, entry)
                self.links[(entry.dev, entry.inode)] = path
            else:
                self.write_or_link(item.source, path, entry, digest)
            return
        if entry.type is EntryType.SYMLINK:
            os.symlink(entry.link_target, path)
        elif entry.type in (EntryType.CHAR, EntryType.BLOCK):
            kind = stat.S_IFCHR if entry.type is EntryType.CHAR else stat.S_IFBLK
            os.mknod(path, kind | 0o600, entry.rdev)
        elif entry.type is EntryType.FIFO:
            os.mkfifo(path, 0o600)
        else:
            return  # sockets belong to a running process, not to an image
        self.set_owner_mode(path, entry)
        os.utime(path, ns=(entry.mtime_ns, entry.mtime_ns), follow_symlinks=False)

    def write_or_link(self, source: str, path: str, entry: Entry, digest: str) -> None:
        uid, gid = self.owner or (entry.uid, entry.gid)
        mode = self.chmod if self.chmod is not None else entry.mode
        key: FileKey | None = (digest, entry.size, mode, uid, gid, entry.mtime_ns)
        if not digest or self.index is None:
            key = None
        found = self.index.find(key) if self.index is not None and key else None
        if key is not None and found is not None and found not in self.linked:
            try:
                os.link(found, path)
                self.linked.add(found)
                return
            except OSError:
                assert self.index is not None
                self.index.forget(key)
        unchanged = self.write_file(source, path, entry)
        if key is not None and unchanged:
            self.written.append((key, os.path.relpath(path, self.upper)))

    def write_file(self, source: str, path: str, entry: Entry) -> bool:
        """Copy one file; returns whether the source still matched its walk (its
        digest then describes what was copied)."""
        src = os.open(source, _READ)
        try:
            dst = os.open(path, _CREATE, 0o600)
            try:
                while os.sendfile(dst, src, None, 1 << 30) > 0:
                    pass
                uid, gid = self.owner or (entry.uid, entry.gid)
                os.fchown(dst, uid, gid)  # before chmod: chown clears setuid bits
                os.fchmod(dst, self.chmod if self.chmod is not None else entry.mode)
                os.utime(dst, ns=(entry.mtime_ns, entry.mtime_ns))
            finally:
                os.close(dst)
            st = os.fstat(src)
        finally:
            os.close(src)
        return (st.st_size, st.st_mtime_ns, st.st_ctime_ns) == (
            entry.size, entry.mtime_ns, entry.ctime_ns,
        )  # fmt: skip

    def set_owner_mode(self, path: str, entry: Entry) -> None:
        uid, gid = self.owner or (entry.uid, entry.gid)
        os.chown(path, uid, gid, follow_symlinks=False)
        if entry.type is not EntryType.SYMLINK:
            os.chmod(path, self.chmod if self.chmod is not None else entry.mode)

    def ensure_dir(self, image_dir: str) -> str:
        """The resolved relative path of an image dir, present in the upper dir."""
        known = self.dirs.get(image_dir)
        if known is not None:
            return known
        rel = self._resolve(image_dir)
        done = ""
        for part in rel.split("/") if rel else []:
            made = self.made.setdefault(done, {})
            done = f"{done}/{part}" if done else part
            mine = made.get(part)
            if mine is None:
                self._make_parent(done, image_dir)
                made[part] = True
            elif mine is False:
                raise InvalidArgument(f"cannot copy to {image_dir}: {part} is not a directory")
        self.dirs[image_dir] = rel
        return rel

    def _make_parent(self, rel: str, image_dir: str) -> None:
        """A parent dir in the upper dir: the image's, copied up, or a new one."""
        path = self._join(rel)
        below = self._below(rel)
        if below is not None and not stat.S_ISDIR(below.st_mode):
            name = posixpath.basename(rel)
            raise InvalidArgument(f"cannot copy to {image_dir}: {name} is not a directory")
        os.mkdir(path, 0o700)
        if below is None:
            uid, gid = self.owner or (0, 0)
            os.chown(path, uid, gid)
            os.chmod(path, 0o755)
            return
        assert self.view is not None
        _copy_up(os.path.join(self.view, rel), path, below)

    def _resolve(self, image_dir: str) -> str:
        if self.view is None:
            return posixpath.normpath(image_dir).lstrip("/").removeprefix(".")
        resolved = resolve_in_root(self.view, image_dir)
        rel = os.path.relpath(resolved, self.view)
        return "" if rel == "." else rel

    def _dir_below(self, parent: str, name: str) -> bool:
        """Whether the image has a directory at `parent/name` (one listing per dir)."""
        if self.view is None:
            return False
        names = self.below.get(parent)
        if names is None:
            try:
                names = frozenset(os.listdir(os.path.join(self.view, parent)))
            except OSError:
                names = frozenset()
            self.below[parent] = names
        if name not in names:
            return False
        found = self._below(f"{parent}/{name}" if parent else name)
        return found is not None and stat.S_ISDIR(found.st_mode)

    def _below(self, rel: str) -> os.stat_result | None:
        return _lstat(os.path.join(self.view, rel)) if self.view is not None else None

    def _join(self, rel: str) -> str:
        return os.path.join(self.upper, rel) if rel else self.upper

    def finish(self) -> None:
        for path, mtime in reversed(self.times):
            os.utime(path, ns=(mtime, mtime), follow_symlinks=False)


def _copy_up(source: str, path: str, st: os.stat_result) -> None:
    """What overlayfs does to a lower directory before writing into it."""
    for name in os.listxattr(source, follow_symlinks=False):
        if not name.startswith(_OVERLAY_XATTRS):
            value = os.getxattr(source, name, follow_symlinks=False)
            os.setxattr(path, name, value, follow_symlinks=False)
    os.chown(path, st.st_uid, st.st_gid)
    os.chmod(path, stat.S_IMODE(st.st_mode))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def _extract(source: str, dest_dir: str) -> None:
    """ADD of a local archive: unpack it into `dest_dir` (no whiteout semantics)."""
    with open(os.open(source, _READ), "rb") as raw:
        head = raw.read(6)
        raw.seek(0)
        opener = next((o for magic, o in _MAGIC if head.startswith(magic)), None)
        stream = opener(raw) if opener else raw
        apply_layer(stream, Path(dest_dir), whiteouts="keep")


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None
