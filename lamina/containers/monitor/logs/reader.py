"""Reading a container's log: the daemon's side (`logs`, and attach's `logs=1`).

Memory stays bounded whatever the log's size: files are read CHUNK bytes at a time and
entries handed out in batches, one per chunk. `--tail N` finds where the last N lines
begin by reading backwards from the end of the newest files (a compressed rotated file,
which cannot be read backwards, is inflated once to count its lines, in chunks too);
`--since` skips whole rotated files whose last entry is older; `--until` stops at the
first entry after it. Like Docker, tail is applied before since.

A follower reads the current file to its end, waits, reads again. When the path names
another file (a rotation), it reads what is left of the old one through its open
descriptor, finds that file among the rotated ones (by inode, or, once compressed, by
the time of its last entry in the gzip header) and goes on with the files after it.
The files are listed and opened under the log's lock (`files.open_segments`), so the
list is never one taken halfway through a rotation: no line is lost or repeated as
long as the file it was reading is still kept.
"""

from __future__ import annotations

import gzip
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from lamina.containers.monitor.logs.entries import LogEntry, decode_line
from lamina.containers.monitor.logs.files import (
    Segment,
    close_segments,
    gzip_last_ns,
    open_segments,
)
from lamina.containers.monitor.logs.tail import (
    BROKEN_GZIP,
    CHUNK,
    MAX_LINE_BYTES,
    last_entry_ns,
    tail_start,
)
from lamina.errors import InvalidArgument
from lamina.timestamps import format_ns, parse_ns


def read_batches(
    path: Path,
    *,
    max_files: int = 1,
    since: float | None = None,
    until: float | None = None,
    tail: int | None = None,
    follow: bool = False,
    stop: Callable[[], bool] = lambda: True,
    poll_interval: float = 0.1,
) -> Iterator[list[LogEntry]]:
    """Entries of the log in batches, as they are read (a batch may be empty).

    `since`/`until` are Unix times in seconds; `tail` keeps the last N lines. With
    `follow`, new entries are served as they are written until `stop()` returns true
    (the container exited); the files are read once more after that, since the monitor
    completes the log before it records the exit. Malformed lines (a torn write after
    a host crash) are skipped.
    """
    window = _Window(since, until)
    segments = _open_when_present(path, max_files, follow, stop, poll_interval)
    try:
        sources = _sources(segments, tail, window)
        for source in sources[:-1]:
            yield from _to_end(source, window)
            source.close()
        if not sources:
            return
        yield from _to_end(sources[-1], window)
        if follow and not window.passed:
            yield from _Follower(path, max_files, sources[-1]).run(window, stop, poll_interval)
    finally:
        close_segments(segments)


class _Source:
    """The lines of one file of the log, from a starting point on."""

    def __init__(self, segment: Segment, *, offset: int = 0, skip: int = 0) -> None:
        self.segment = segment
        self._stream: BinaryIO | gzip.GzipFile = segment.file
        if segment.compressed:
            self._stream = gzip.GzipFile(fileobj=segment.file, mode="rb")
        else:
            segment.file.seek(offset)
        self._skip = skip
        self._pending = b""
        self._discarding = False

    def close(self) -> None:
        self.segment.file.close()

    def read(self) -> list[LogEntry] | None:
        """The entries of the next chunk; None at the end of what is written so far."""
        try:
            data = self._stream.read(CHUNK)
        except BROKEN_GZIP:
            data = b""  # a damaged rotated file: what it held is lost
        if not data:
            return None
        lines = (self._pending + data).split(b"\n")
        self._pending = lines.pop()
        if self._discarding and lines:
            lines.pop(0)
            self._discarding = False
        if len(self._pending) > MAX_LINE_BYTES:
            self._pending, self._discarding = b"", True
        if self._skip:
            skipped = min(self._skip, len(lines))
            self._skip -= skipped
            lines = lines[skipped:]
        return [entry for line in lines if (entry := decode_line(line)) is not None]


def _open_when_present(
    path: Path, max_files: int, follow: bool, stop: Callable[[], bool], interval: float
) -> list[Segment]:
    while True:
        segments = open_segments(path, max_files)
        if segments or not follow or stop():
            return segments
        time.sleep(interval)


def _sources(segments: list[Segment], tail: int | None, window: _Window) -> list[_Source]:
    """Where reading starts in each file: after tail, and without the files that end
    before since (the current one is always kept: a follower goes on from it)."""
    if not segments:
        return []
    first, offset, skip = (0, 0, 0) if tail is None else tail_start(segments, tail)
    close_segments(segments[:first])
    sources = [_Source(segments[first], offset=offset, skip=skip)]
    sources += [_Source(segment) for segment in segments[first + 1 :]]
    if window.since is None:
        return sources
    kept = [s for s in sources[:-1] if not window.before(_segment_last_ns(s.segment))]
    for source in set(sources[:-1]) - set(kept):
        source.close()
    return [*kept, sources[-1]]


def _to_end(source: _Source, window: _Window) -> Iterator[list[LogEntry]]:
    while not window.passed and (entries := source.read()) is not None:
        yield window.select(entries)


class _Follower:
    """Follows the current file, and the files after it when it is rotated."""

    def __init__(self, path: Path, max_files: int, source: _Source) -> None:
        self.path = path
        self.max_files = max_files
        self.source = source

    def run(
        self, window: _Window, stop: Callable[[], bool], interval: float
    ) -> Iterator[list[LogEntry]]:
        stopped = False
        try:
            while not window.passed:
                entries = self.source.read()
                if entries is not None:
                    yield window.select(entries)
                elif self._rotated():
                    yield from _to_end(self.source, window)  # written before the rename
                    yield from self._move_on(window)
                elif stopped:
                    return
                else:
                    stopped = stop()
                    if not stopped:
                        time.sleep(interval)
        finally:
            self.source.close()

    def _rotated(self) -> bool:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False  # between a max-file 1 rotation's unlink and its new file
        return (st.st_dev, st.st_ino) != self.source.segment.identity

    def _move_on(self, window: _Window) -> Iterator[list[LogEntry]]:
        segments = open_segments(self.path, self.max_files)
        newer = _after(segments, self.source.segment)
        close_segments(segments[: len(segments) - len(newer)])
        if not newer:
            return  # the new current file is not there yet: look again later
        self.source.close()
        self.source = _Source(newer[-1])
        try:
            for segment in newer[:-1]:
                source = _Source(segment)
                yield from _to_end(source, window)
                source.close()
        finally:
            close_segments(newer[:-1])


def _after(segments: list[Segment], ours: Segment) -> list[Segment]:
    """The files written after `ours`: found by inode, or once compressed by the
    time of its last entry; all of them when it is gone (rotated out of the log)."""
    ours_ns: int | None = None
    for index, segment in enumerate(segments):
        if segment.identity == ours.identity:
            return segments[index + 1 :]
        if segment.compressed:
            if ours_ns is None:
                ours_ns = _segment_last_ns(ours)
            if ours_ns is not None and gzip_last_ns(segment.file) == ours_ns:
                return segments[index + 1 :]
    return segments


def _segment_last_ns(segment: Segment) -> int | None:
    """The time of the file's last entry; where the file is read from is kept."""
    position = segment.file.tell()
    found = (gzip_last_ns if segment.compressed else last_entry_ns)(segment.file)
    segment.file.seek(position)
    return found


class _Window:
    """--since and --until. Entries lamina wrote have fixed-width UTC times, which
    compare as text; others are parsed."""

    def __init__(self, since: float | None, until: float | None) -> None:
        self.since = None if since is None else _Bound(int(since * 1_000_000_000))
        self.until = None if until is None else _Bound(int(until * 1_000_000_000))
        self.passed = False  # an entry after `until` was seen: nothing more to serve

    def before(self, nanos: int | None) -> bool:
        """Whether a file whose last entry is at `nanos` ends before `since`."""
        return self.since is not None and nanos is not None and nanos < self.since.nanos

    def select(self, entries: list[LogEntry]) -> list[LogEntry]:
        if self.since is None and self.until is None:
            return entries
        out = []
        for entry in entries:
            if self.until is not None and self.until.compare(entry.time) > 0:
                self.passed = True
                break
            if self.since is None or self.since.compare(entry.time) >= 0:
                out.append(entry)
        return out


class _Bound:
    def __init__(self, nanos: int) -> None:
        self.nanos = nanos
        try:
            self.text = format_ns(nanos)
        except (OverflowError, ValueError, OSError):  # beyond time_t: compare as numbers
            self.text = ""

    def compare(self, stamp: str) -> int:
        """<0, 0 or >0 as `stamp` is before, at or after the bound (an unreadable stamp
        is before everything: such an entry is skipped by since, kept by until)."""
        if len(stamp) == 30 == len(self.text) and stamp[-1] == "Z" and stamp[10] == "T":
            return (stamp > self.text) - (stamp < self.text)
        try:
            nanos = parse_ns(stamp)
        except InvalidArgument:
            return -1
        return (nanos > self.nanos) - (nanos < self.nanos)
