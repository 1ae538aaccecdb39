"""The files of one container's log, how they rotate, and how readers open them together.

    <path>              the current file, appended to by the container's monitor
    <path>.1            the newest rotated file (<path>.1.gz when compressed)
    …
    <path>.<N-1>        the oldest one kept, N being max-file

A rotation (Docker's loggerutils.LogFile.rotate) deletes the oldest file, renames each
other one a number up, renames the current file to .1 and starts a new current file;
with max-file 1 the current file is deleted and started again. With compress, .1 is
then gzipped by a thread into .1.gz, through a temporary name, so a reader sees the
whole .1 or the whole .1.gz (and prefers .1 while both exist). The gzip header carries
the time of the file's last entry, as Docker's does: a reader skips the file for
`--since` without inflating it, and a follower recognizes the file it was reading
after it was compressed.

The writer (the container's monitor) and the readers (the daemon) are different
processes. A rotation renames up to max-file files one at a time, and the monitor may
rotate hundreds of times a second, so a reader that lists the folder and opens what
it found can see a rotation half done: a file listed under one number and opened
under the next, or missing from both. The log's folder is therefore locked (flock):
exclusively by a rotation and by the renames that end a compression, shared by a
reader while it lists and opens the files (`open_segments`). A reader sees the files
as they are between two rotations, all open at once, so neither `logs` nor a follower
moving on after a rotation repeats or skips one.

Rotation and reading list the folder once and act on the numbered files that exist,
never on every number below max-file: Docker accepts any max-file up to int64's, and
counting up to it would take hours at each rotation, with the container's output
waiting meanwhile.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple

from lamina.errors import LaminaError
from lamina.private import PRIVATE_FILE
from lamina.timestamps import format_ns, parse_ns

_GZIP_MAGIC = b"\x1f\x8b\x08"
_FEXTRA = 4


def rotated_path(path: Path, number: int, *, compressed: bool = False) -> Path:
    return path.with_name(f"{path.name}.{number}{'.gz' if compressed else ''}")


class Rotated(NamedTuple):
    """A rotated file of the log: `<path>.<number>`, or `<path>.<number>.gz`."""

    number: int
    compressed: bool
    path: Path


def rotated_files(path: Path) -> list[Rotated]:
    """The rotated files of the log at `path` that exist, newest (.1) first, and for
    one number the plain file before the compressed one."""
    prefix = path.name + "."
    found = []
    try:
        names = os.listdir(path.parent)
    except FileNotFoundError:
        return []
    for name in names:
        if not name.startswith(prefix):
            continue
        digits = name[len(prefix) :].removesuffix(".gz")
        if digits.isascii() and digits.isdigit() and not digits.startswith("0"):
            found.append(Rotated(int(digits), name.endswith(".gz"), path.with_name(name)))
    return sorted(found)


@contextlib.contextmanager
def locked(path: Path, *, shared: bool) -> Iterator[None]:
    """The folder of the log at `path` locked: shared by readers, exclusively by a
    rotation or a compression's renames. A folder that is gone is not locked (a
    reader then finds no files)."""
    try:
        fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # the lock goes with the descriptor


def rotate(path: Path, max_files: int, *, compress: bool) -> None:
    """The renames of one rotation, under `locked` (the writer holds it until its new
    current file exists). The writer has closed the current file. Each rotated file
    moves a number up, the oldest first (a file whose compression failed moves as it
    is); one that would pass max-file is deleted."""
    if max_files < 2:
        _unlink(path)
        return
    for number, compressed, name in reversed(rotated_files(path)):
        if number + 1 >= max_files:
            _unlink(name)
            continue
        with contextlib.suppress(FileNotFoundError):
            os.rename(name, rotated_path(path, number + 1, compressed=compressed))
    with contextlib.suppress(FileNotFoundError):
        os.rename(path, rotated_path(path, 1))


def compress_file(source: Path, last_ns: int | None) -> None:
    """Gzip `source` into `source.gz` (Docker's header: the last entry's time in the
    extra field), then remove `source`."""
    target = source.with_name(source.name + ".gz")
    partial = target.with_name(target.name + ".tmp")
    deflate = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    crc = size = 0
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
    with open(source, "rb") as src, open(os.open(partial, flags, PRIVATE_FILE), "wb") as out:
        out.write(_gzip_header(last_ns))
        while chunk := src.read(1 << 20):
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
            out.write(deflate.compress(chunk))
        out.write(deflate.flush() + struct.pack("<II", crc, size & 0xFFFFFFFF))
    with locked(source, shared=False):  # a reader sees .N or .N.gz, never neither
        os.replace(partial, target)
        source.unlink()


def _gzip_header(last_ns: int | None) -> bytes:
    extra = b"{}" if last_ns is None else json.dumps({"lastTime": _go_time(last_ns)}).encode()
    # flags, mtime 0, no extra flags, OS "unknown": what Go's gzip writer puts there
    return (
        _GZIP_MAGIC + bytes([_FEXTRA, 0, 0, 0, 0, 0, 255]) + struct.pack("<H", len(extra)) + extra
    )


def _go_time(ns: int) -> str:
    """Go's RFC 3339 with nanoseconds, as json.Marshal writes a time: zeros trimmed."""
    text = format_ns(ns)
    return text[:19] + (text[19:-1].rstrip("0").rstrip(".")) + "Z"


def gzip_last_ns(f: BinaryIO) -> int | None:
    """The last entry's time from a rotated file's gzip header (None if it has none);
    leaves `f` at its start."""
    try:
        head = f.read(12)
        if head[:3] != _GZIP_MAGIC or not head[3] & _FEXTRA:
            return None
        extra = f.read(struct.unpack("<H", head[10:12])[0])
        return parse_ns(json.loads(extra)["lastTime"])
    except (ValueError, KeyError, TypeError, struct.error, LaminaError):
        return None
    finally:
        f.seek(0)


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


class Segment(NamedTuple):
    """One file of a log, open for reading."""

    path: Path
    file: BinaryIO
    compressed: bool
    identity: tuple[int, int]  # (device, inode): what a rename does not change


def open_segments(path: Path, max_files: int) -> list[Segment]:
    """The log's files, oldest first (the current one last), open together, as they
    are between two rotations."""
    with locked(path, shared=True):
        return _open_all(_listing(path, max_files))


def close_segments(segments: list[Segment]) -> None:
    for segment in segments:
        segment.file.close()


def _listing(path: Path, max_files: int) -> list[Path]:
    """The log's files by name, oldest first. Of .N and .N.gz, only .N: both exist
    when a monitor died between the two renames that end a compression."""
    rotated = [r for r in rotated_files(path) if r.number < max_files]
    rotated.sort(key=lambda r: (-r.number, r.compressed))
    names: list[Path] = []
    for r in rotated:
        if not (names and names[-1] == rotated_path(path, r.number)):
            names.append(r.path)
    return [*names, path]


def _open_all(names: list[Path]) -> list[Segment]:
    segments = []
    for name in names:
        try:
            f = open(name, "rb")  # noqa: SIM115 (the segment owns it; close_segments)
        except FileNotFoundError:
            continue  # the current file before the container's first output
        st = os.fstat(f.fileno())
        segments.append(Segment(name, f, name.suffix == ".gz", (st.st_dev, st.st_ino)))
    return segments
