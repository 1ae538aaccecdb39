"""Layer tars: decompress, apply safely onto a directory, and write deterministically.

A layer is a tar of one filesystem diff (OCI image spec, layer.md). Deletions are
whiteout entries: `dir/.wh.name` removes `name`, `dir/.wh..wh..opq` hides everything
the lower layers had below `dir`. On disk a driver wants them in one of two shapes:
"overlay" (a char device 0/0, and the xattr `trusted.overlay.opaque=y`, as overlayfs
reads them) or "delete" (the target holds the full parent tree; remove the files).

Tars are untrusted input. Every member is placed by resolving its parent directory
*inside* the target (symlinks followed as if the target were `/`, like Docker's
FollowSymlinkInScope), and the last component is never followed, so nothing is ever
written outside the target.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import importlib
import io
import os
import shutil
import stat
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Literal, cast

from lamina.errors import FailedPrecondition, Internal, InvalidArgument, LaminaError
from lamina.oci.digest import Digest
from lamina.process import CAP_CHOWN, CAP_MKNOD, effective_capabilities
from lamina.store import treediff
from lamina.store.rootpath import TooManyLinks, resolve_relative

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

# "keep": `.wh.` names are ordinary files (a build context or an ADDed archive is not a
# layer, and Docker extracts those without whiteout semantics).
Whiteouts = Literal["overlay", "delete", "keep"]

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
_PAX_XATTR = "SCHILY.xattr."
# overlayfs keeps its own bookkeeping (opaque, redirect, origin, metacopy) in
# trusted.overlay.*; a tar must not forge it, and an upper dir's copy is not content.
# SELinux labels are host policy, not image content.
_SKIPPED_XATTRS = ("trusted.overlay.", "security.selinux")
_CHUNK = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
# Failures of the host rather than of the tar's content.
_HOST_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.ENOMEM, errno.EMFILE}


@dataclass(frozen=True)
class ApplyResult:
    diff_id: Digest  # sha256 of the uncompressed tar stream, padding included
    size: int  # bytes of the uncompressed tar stream


# --- decompression ---------------------------------------------------------------------


def open_layer(stream: BinaryIO) -> BinaryIO:
    """Return the uncompressed tar inside `stream` (gzip, zstd if available, or plain)."""
    head = b""
    while len(head) < 4 and (more := stream.read(4 - len(head))):
        head += more
    raw = io.BufferedReader(_Prefixed(head, stream), _CHUNK)
    if head.startswith(_GZIP_MAGIC):
        return cast(BinaryIO, gzip.GzipFile(fileobj=raw, mode="rb"))
    if head == _ZSTD_MAGIC:
        try:
            zstandard = importlib.import_module("zstandard")
        except ImportError:
            raise InvalidArgument("zstd layers are not supported yet") from None
        reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
        return cast(BinaryIO, reader)
    return cast(BinaryIO, raw)


class _Prefixed(io.RawIOBase):
    """The bytes already read to sniff the format, then the rest of the stream."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        data = self._head[: len(view)] if self._head else self._rest.read(len(view))
        self._head = self._head[len(data) :]
        view[: len(data)] = data
        return len(data)


class _HashingReader:
    """Counts and hashes every byte tarfile reads, so the diffID costs no second pass."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._hash = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self._hash.update(data)
        self.size += len(data)
        return data

    def drain(self) -> None:
        # tarfile stops at the end-of-archive blocks; the diffID covers the padding too.
        while self.read(_CHUNK):
            pass

    def digest(self) -> Digest:
        return Digest(f"sha256:{self._hash.hexdigest()}")


# --- applying a layer ------------------------------------------------------------------


def apply_layer(tar_stream: BinaryIO, target: Path, *, whiteouts: Whiteouts) -> ApplyResult:
    """Extract the uncompressed layer tar `tar_stream` onto the directory `target`.

    Raises InvalidArgument for a corrupt tar or a member that is not allowed; the target
    is then half-written and should be thrown away (the layer store extracts into a
    temporary directory for that reason).
    """
    reader = _HashingReader(tar_stream)
    extractor = _Extractor(os.fspath(target), whiteouts)
    try:
        with tarfile.open(
            fileobj=cast(BinaryIO, reader), mode="r|", encoding="utf-8", errors="surrogateescape"
        ) as tf:
            # Stream mode remembers every member; forget them to keep memory flat.
            seen: list[tarfile.TarInfo] = tf.members  # type: ignore[attr-defined]
            while (member := tf.next()) is not None:
                extractor.apply(tf, member)
                seen.clear()
        reader.drain()
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise InvalidArgument(f"layer tar: corrupt or truncated: {err}") from err
    extractor.finish()
    return ApplyResult(reader.digest(), reader.size)


def _clean(name: str, member: str) -> list[str]:
    """Components of a tar path, leading "/" dropped (as Docker); refuse climbing out."""
    parts: list[str] = []
    for part in name.split("/"):
        if part == "..":
            if not parts:
                raise InvalidArgument(f"layer tar: member {_show(member)} escapes the target")
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return parts


def _show(name: str) -> str:
    return '"' + (name if len(name) <= 120 else name[:120] + "…") + '"'


def _member_error(name: str, err: OSError) -> LaminaError:
    if err.errno == errno.ENAMETOOLONG:
        return InvalidArgument(f"layer tar: member {_show(name)}: name too long")
    text = f"layer tar: member {_show(name)}: {err.strerror or err}"
    return Internal(text) if err.errno in _HOST_ERRNOS else InvalidArgument(text)


class _Extractor:
    """Applies members one by one; paths are kept as "/"-joined strings relative to root."""

    def __init__(self, root: str, whiteouts: Whiteouts) -> None:
        self.root = root
        self.whiteouts = whiteouts
        capabilities = effective_capabilities()
        # What root may do, by capability: root in a container may lack some.
        self.may_chown = bool(capabilities >> CAP_CHOWN & 1)
        self.may_mknod = bool(capabilities >> CAP_MKNOD & 1)
        self.written: set[str] = set()  # entries this layer made (whiteouts spare them)
        self.dirs: dict[str, tuple[int, float]] = {}  # dir → (mode, mtime), set at the end
        self.parents: dict[str, str] = {}  # cleaned parent name → resolved parent

    def abs(self, rel: str) -> str:
        return f"{self.root}/{rel}" if rel else self.root

    def apply(self, tf: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        parts = _clean(member.name, member.name)
        if not parts:
            return  # the root itself: it keeps the mode the layer store gave it (as Docker)
        try:
            parent = self.parent(parts[:-1])
            if parts[-1].startswith(WHITEOUT_PREFIX) and self.whiteouts != "keep":
                self.whiteout(parent, parts[-1], member.name)
            else:
                self.create(tf, member, _join(parent, parts[-1]))
        except OSError as err:
            raise _member_error(member.name, err) from err
        except (OverflowError, ValueError) as err:
            raise InvalidArgument(f"layer tar: member {_show(member.name)}: {err}") from err

    def resolve(self, parts: list[str], member: str) -> str:
        """Follow symlinks along `parts` with root as "/" and ".." clamped at it."""
        try:
            return resolve_relative(self.root, "/".join(parts))
        except TooManyLinks as err:
            raise InvalidArgument(f"layer tar: member {_show(member)}: too many symlinks") from err

    def parent(self, parts: list[str]) -> str:
        """The resolved directory for a member's parent, created (0755) if missing."""
        key = "/".join(parts)
        if key not in self.parents:
            rel = self.resolve(parts, key)
            os.makedirs(self.abs(rel), 0o755, exist_ok=True)
            self.parents[key] = rel
        return self.parents[key]

    def remove(self, rel: str) -> None:
        path = self.abs(rel)
        st = _lstat(path)
        if st is None:
            return
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(path)  # rmtree never follows symlinks inside the tree
            below = rel + "/"
            for key in [k for k in self.dirs if k == rel or k.startswith(below)]:
                del self.dirs[key]
        else:
            os.unlink(path)
        if stat.S_ISDIR(st.st_mode) or stat.S_ISLNK(st.st_mode):
            # Parents resolved through this dir or symlink may now mean another place.
            # (Cached parents exist as real dirs, so no other change can affect them.)
            self.parents.clear()

    def create(self, tf: tarfile.TarFile, member: tarfile.TarInfo, rel: str) -> None:
        path = self.abs(rel)
        source = self.link_source(member) if member.islnk() else ""
        if (member.ischr() or member.isblk()) and not self.may_mknod:
            return  # a rootless extraction goes without devices, as Docker's does
        st = _lstat(path)
        if not (member.isdir() and st is not None and stat.S_ISDIR(st.st_mode)):
            self.remove(rel)  # replaces a symlink rather than writing through it
        self.make_node(tf, member, path, source)
        self.written.add(rel)
        if member.islnk():
            return  # a hard link shares the inode, and its metadata, with its source
        self.set_metadata(path, rel, member)
        if member.isdir() and st is not None and _is_whiteout(st) and self.whiteouts == "overlay":
            # ".wh.d" then "d/": a new dir where a lower one was deleted. Without the
            # opaque mark overlayfs would merge the deleted dir's entries back in.
            self.opaque(rel, member.name)

    def make_node(
        self, tf: tarfile.TarFile, member: tarfile.TarInfo, path: str, source: str
    ) -> None:
        if member.isreg():
            self.write_file(tf, member, path)
        elif member.isdir():
            if _lstat(path) is None:
                os.mkdir(path, 0o700)
        elif member.issym():
            os.symlink(member.linkname, path)
        elif member.islnk():
            os.link(source, path, follow_symlinks=False)
        elif member.ischr() or member.isblk():
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            os.mknod(path, kind | 0o600, os.makedev(member.devmajor, member.devminor))
        elif member.isfifo():
            os.mkfifo(path, 0o600)
        else:
            raise InvalidArgument(
                f"layer tar: member {_show(member.name)}: unsupported type {member.type!r}"
            )

    def write_file(self, tf: tarfile.TarFile, member: tarfile.TarInfo, path: str) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        data = tf.extractfile(member)
        with os.fdopen(os.open(path, flags, 0o600), "wb") as out:
            if data is not None:
                shutil.copyfileobj(data, out, _CHUNK)

    def link_source(self, member: tarfile.TarInfo) -> str:
        parts = _clean(member.linkname, member.name)
        if not parts:
            raise InvalidArgument(f"layer tar: member {_show(member.name)} links to the root")
        source = self.abs(_join(self.resolve(parts[:-1], member.name), parts[-1]))
        st = _lstat(source)
        if st is None or stat.S_ISDIR(st.st_mode):
            raise InvalidArgument(
                f"layer tar: member {_show(member.name)} links to {_show(member.linkname)}, "
                "which is not a file extracted in the target"
            )
        return source

    def set_metadata(self, path: str, rel: str, member: tarfile.TarInfo) -> None:
        # Order matters: chown clears setuid bits and security.capability, so it goes first.
        if self.may_chown:  # otherwise everything is the extracting user's, as rootless
            os.chown(path, member.uid, member.gid, follow_symlinks=False)
        if member.isdir():
            # Writing entries into a directory changes its mtime, and a read-only mode
            # could forbid the writes, so both are set when the last entry is in.
            self.dirs[rel] = (member.mode & 0o7777, member.mtime)
        elif not member.issym():
            os.chmod(path, member.mode & 0o7777, follow_symlinks=False)
        for key, value in member.pax_headers.items():
            if key.startswith(_PAX_XATTR):
                _set_xattr(path, key[len(_PAX_XATTR) :], value)
        if not member.isdir():
            os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)

    def whiteout(self, parent: str, name: str, member: str) -> None:
        if name == OPAQUE_MARKER:
            self.opaque(parent, member)
            return
        if name.startswith(WHITEOUT_PREFIX * 2):
            return  # aufs bookkeeping (.wh..wh.plnk and friends), not a deletion
        hidden = name[len(WHITEOUT_PREFIX) :]
        if hidden in ("", ".", ".."):
            raise InvalidArgument(f"layer tar: whiteout {_show(member)} names no entry")
        rel = _join(parent, hidden)
        if rel in self.written:
            return  # a whiteout hides lower layers' files, never its own layer's (OCI spec)
        self.remove(rel)
        if self.whiteouts == "overlay":
            try:
                os.mknod(self.abs(rel), stat.S_IFCHR, os.makedev(0, 0))
            except PermissionError as err:
                raise FailedPrecondition(
                    f"layer tar: whiteout {_show(member)}: overlay whiteouts need root"
                ) from err
            self.written.add(rel)

    def opaque(self, rel: str, member: str) -> None:
        if self.whiteouts == "overlay":
            try:
                os.setxattr(self.abs(rel), OPAQUE_XATTR, b"y", follow_symlinks=False)
            except PermissionError as err:
                raise FailedPrecondition(
                    f"layer tar: opaque marker {_show(member)}: overlay opaque dirs need root"
                ) from err
            return
        # Entries of this layer may precede the marker in the tar; they and their
        # parent dirs stay, everything the lower layers had goes.
        prefix = rel + "/" if rel else ""
        keep: set[str] = set()
        for done in self.written:
            if done.startswith(prefix):
                steps = done[len(prefix) :].split("/")
                keep.update(prefix + "/".join(steps[: i + 1]) for i in range(len(steps)))
        self.prune(rel, keep)

    def prune(self, rel: str, keep: set[str]) -> None:
        with os.scandir(self.abs(rel)) as entries:
            names = [(e.name, e.is_dir(follow_symlinks=False)) for e in entries]
        for name, is_dir in names:
            child = _join(rel, name)
            if child not in keep:
                self.remove(child)
            elif is_dir:
                self.prune(child, keep)

    def finish(self) -> None:
        for rel, (mode, mtime) in self.dirs.items():
            try:
                os.chmod(self.abs(rel), mode, follow_symlinks=False)
                os.utime(self.abs(rel), (mtime, mtime), follow_symlinks=False)
            except OSError as err:
                raise _member_error(rel, err) from err
            except (OverflowError, ValueError) as err:
                raise InvalidArgument(f"layer tar: member {_show(rel)}: {err}") from err


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _join(parent: str, name: str) -> str:
    return f"{parent}/{name}" if parent else name


def _set_xattr(path: str, name: str, value: str) -> None:
    if name.startswith(_SKIPPED_XATTRS):
        return
    try:
        os.setxattr(path, name, value.encode("utf-8", "surrogateescape"), follow_symlinks=False)
    except OSError as err:
        # Not every filesystem or namespace takes every xattr (user.* on symlinks,
        # trusted.* without root); the file itself is still right.
        if err.errno not in (errno.EPERM, errno.ENOTSUP):
            raise


# --- writing a layer -------------------------------------------------------------------


def write_tar(
    root: Path,
    out: BinaryIO,
    *,
    whiteouts: Literal["overlay"] | None = None,
    source_date_epoch: int | None = None,
) -> None:
    """Write the tree under `root` to `out` as a deterministic PAX tar.

    Same tree, same bytes: names sorted, numeric owners only, no user/group names,
    mtimes clamped to `source_date_epoch`. With whiteouts="overlay", `root` is an
    overlay upper dir and its whiteout devices and opaque xattrs become OCI whiteouts.
    The bytes are those `tarfile` writes in PAX format (ustar headers, an extended
    header only when a field needs one, the archive padded to a 10240-byte record).
    """
    writer = _TarWriter(out, whiteouts == "overlay", source_date_epoch)
    for rel, path, st in _walk(os.fspath(root), ""):
        writer.add(rel, path, st)
    writer.close()


def write_changes(
    lower: Path | None, upper: Path, out: BinaryIO, *, source_date_epoch: int | None = None
) -> None:
    """Write what the full tree `upper` changes of the full tree `lower` (None: of no
    tree) to `out` as `write_tar` would write the diff: the new and changed entries with
    the directories above them, and a whiteout for each entry `upper` no longer has."""
    writer = _TarWriter(out, False, source_date_epoch)
    for change in treediff.changes(os.fspath(lower) if lower else None, os.fspath(upper)):
        if change.path is None:
            head, _, name = change.rel.rpartition("/")
            writer.header(_join(head, WHITEOUT_PREFIX + name), change.st, 0o600)
        else:
            writer.add(change.rel, change.path, change.st)
    writer.close()


def _walk(top: str, prefix: str) -> Iterator[tuple[str, str, os.stat_result]]:
    with os.scandir(top) as it:
        entries = sorted(it, key=lambda e: os.fsencode(e.name))
    for entry in entries:
        st = entry.stat(follow_symlinks=False)
        yield prefix + entry.name, entry.path, st
        if stat.S_ISDIR(st.st_mode):
            yield from _walk(entry.path, f"{prefix}{entry.name}/")


class _TarWriter:
    """Writes members straight to `out`. Building each header here rather than through
    `tarfile.TarFile.addfile` (which copies the TarInfo, tests every field for a pax
    header and sums the checksum through struct) makes a layer of many small files
    several times cheaper to write; entries that need a pax header still get
    `TarInfo.tobuf`'s, so the output is byte for byte tarfile's."""

    def __init__(self, out: BinaryIO, overlay: bool, source_date_epoch: int | None) -> None:
        self.out = out
        self.offset = 0
        self.overlay = overlay
        self.epoch = source_date_epoch
        self.links: dict[tuple[int, int], str] = {}  # (dev, inode) → first name written

    def add(self, rel: str, path: str, st: os.stat_result) -> None:
        if self.overlay and _is_whiteout(st):
            # Checked before hard links: overlayfs links its whiteouts to one shared inode.
            head, _, name = rel.rpartition("/")
            self.header(_join(head, WHITEOUT_PREFIX + name), st, 0o600)
            return
        mode = stat.S_IMODE(st.st_mode)
        if not stat.S_ISDIR(st.st_mode) and st.st_nlink > 1:
            first = self.links.setdefault((st.st_dev, st.st_ino), rel)
            if first != rel:
                self.header(rel, st, mode, kind=tarfile.LNKTYPE, linkname=first)
                return
        if stat.S_ISSOCK(st.st_mode):
            return  # sockets belong to a running process, not to an image
        pax = _xattrs(path)
        if stat.S_ISREG(st.st_mode):
            self.header(rel, st, mode, pax=pax, size=st.st_size)
            self.data(path, st.st_size)
            return
        kind = _TYPES[stat.S_IFMT(st.st_mode)]
        linkname = os.readlink(path) if stat.S_ISLNK(st.st_mode) else ""
        self.header(rel, st, mode, pax=pax, kind=kind, linkname=linkname)
        if self.overlay and stat.S_ISDIR(st.st_mode) and _opaque(path):
            # Written straight after its dir, so a reader hides the lower entries
            # before it meets this layer's own ones.
            self.header(f"{rel}/{OPAQUE_MARKER}", st, mode)

    def header(
        self,
        name: str,
        st: os.stat_result,
        mode: int,
        *,
        pax: dict[str, str] | None = None,
        kind: bytes = tarfile.REGTYPE,
        linkname: str = "",
        size: int = 0,
    ) -> None:
        mtime = int(st.st_mtime)
        mtime = mtime if self.epoch is None else min(mtime, self.epoch)
        if kind == tarfile.DIRTYPE and not name.endswith("/"):
            name += "/"  # as TarInfo.get_info does
        dev = (os.major(st.st_rdev), os.minor(st.st_rdev)) if kind in _DEVICES else None
        buf = _ustar(name, mode, st.st_uid, st.st_gid, size, mtime, kind, linkname, dev)
        if buf is None or pax:
            buf = _tarfile_header(name, mode, st, size, mtime, kind, linkname, dev, pax or {})
        self.write(buf)

    def data(self, path: str, size: int) -> None:
        with open(path, "rb") as source:
            left = size
            while left > 0:
                chunk = source.read(min(left, _CHUNK))
                if not chunk:
                    raise OSError(f"{path}: file shrank while being archived")
                self.write(chunk)
                left -= len(chunk)
        if size % tarfile.BLOCKSIZE:
            self.write(tarfile.NUL * (tarfile.BLOCKSIZE - size % tarfile.BLOCKSIZE))

    def write(self, data: bytes) -> None:
        self.out.write(data)
        self.offset += len(data)

    def close(self) -> None:
        self.write(tarfile.NUL * (2 * tarfile.BLOCKSIZE))
        if self.offset % tarfile.RECORDSIZE:
            self.write(tarfile.NUL * (tarfile.RECORDSIZE - self.offset % tarfile.RECORDSIZE))


_NUM_LIMITS = {8: 8**7, 12: 8**11}
_DEVICES = (tarfile.CHRTYPE, tarfile.BLKTYPE)


def _ustar(
    name: str,
    mode: int,
    uid: int,
    gid: int,
    size: int,
    mtime: int,
    kind: bytes,
    linkname: str,
    dev: tuple[int, int] | None,
) -> bytes | None:
    """tarfile's ustar header for a member that needs no pax header, else None."""
    if not (name.isascii() and len(name) <= 100 and linkname.isascii() and len(linkname) <= 100):
        return None
    small = 0 <= uid < _NUM_LIMITS[8] and 0 <= gid < _NUM_LIMITS[8]
    if not (small and 0 <= size < _NUM_LIMITS[12] and 0 <= mtime < _NUM_LIMITS[12]):
        return None
    if dev is not None and not (0 <= dev[0] < _NUM_LIMITS[8] and 0 <= dev[1] < _NUM_LIMITS[8]):
        return None
    devices = b"%07o\0%07o\0" % dev if dev is not None else tarfile.NUL * 16
    buf = b"".join((
        name.encode("ascii").ljust(100, tarfile.NUL), b"%07o\0" % mode, b"%07o\0" % uid,
        b"%07o\0" % gid, b"%011o\0" % size, b"%011o\0" % mtime, b" " * 8, kind,
        linkname.encode("ascii").ljust(100, tarfile.NUL), tarfile.POSIX_MAGIC,
        tarfile.NUL * 64, devices, tarfile.NUL * 167,
    ))  # fmt: skip
    return buf[:148] + b"%06o\0" % sum(buf) + buf[155:]


def _tarfile_header(
    name: str,
    mode: int,
    st: os.stat_result,
    size: int,
    mtime: int,
    kind: bytes,
    linkname: str,
    dev: tuple[int, int] | None,
    pax: dict[str, str],
) -> bytes:
    info = tarfile.TarInfo(name)
    info.mode, info.uid, info.gid, info.size, info.mtime = mode, st.st_uid, st.st_gid, size, mtime
    info.type, info.linkname, info.uname, info.gname = kind, linkname, "", ""
    if dev is not None:
        info.devmajor, info.devminor = dev
    info.pax_headers = pax
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


_TYPES = {
    stat.S_IFDIR: tarfile.DIRTYPE,
    stat.S_IFLNK: tarfile.SYMTYPE,
    stat.S_IFCHR: tarfile.CHRTYPE,
    stat.S_IFBLK: tarfile.BLKTYPE,
    stat.S_IFIFO: tarfile.FIFOTYPE,
}


def _xattrs(path: str) -> dict[str, str]:
    try:
        names = sorted(os.listxattr(path, follow_symlinks=False))
    except OSError as err:
        if err.errno == errno.ENOTSUP:
            return {}
        raise
    return {
        _PAX_XATTR + name: os.getxattr(path, name, follow_symlinks=False).decode(
            "utf-8", "surrogateescape"
        )
        for name in names
        if not name.startswith(_SKIPPED_XATTRS)
    }


def _opaque(path: str) -> bool:
    try:
        return os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False
