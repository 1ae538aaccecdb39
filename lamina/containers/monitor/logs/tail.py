"""Finding places in a log from its end, without reading it all: where the last N lines
begin (`--tail`), and the time of a file's last entry.

A plain file is read backwards in CHUNK-sized blocks. A compressed rotated file cannot
be, so it is inflated once, in chunks, to count its lines; the reader then skips that
many lines of it.
"""

from __future__ import annotations

import gzip
import os
import zlib
from typing import BinaryIO

from lamina.containers.monitor.logs.entries import decode_line
from lamina.containers.monitor.logs.files import Segment
from lamina.errors import InvalidArgument
from lamina.timestamps import parse_ns

CHUNK = 256 * 1024
MAX_LINE_BYTES = 1 << 20  # longer, with no newline in sight, is not an entry: skipped
BROKEN_GZIP = (OSError, EOFError, zlib.error)


def tail_start(segments: list[Segment], count: int) -> tuple[int, int, int]:
    """Where the last `count` lines begin: (file index, byte offset, lines to skip)."""
    need = count
    for index in range(len(segments) - 1, -1, -1):
        segment = segments[index]
        if segment.compressed:
            lines = _count_lines(segment)
            if lines >= need:
                return index, 0, lines - need
        else:
            offset, lines = tail_offset(segment.file, need)
            if lines >= need:
                return index, offset, 0
        need -= lines
    return 0, 0, 0


def tail_offset(f: BinaryIO, count: int) -> tuple[int, int]:
    """Where the last `count` lines of the open file begin, reading backwards, and how
    many lines that is (fewer when the file has fewer)."""
    end = f.seek(0, os.SEEK_END)
    if end == 0 or count <= 0:
        return end, 0
    f.seek(end - 1)
    # The newline that ends the last line is not a boundary between two of the lines.
    pos = end - 1 if f.read(1) == b"\n" else end
    boundaries = 0
    while pos > 0:
        step = min(CHUNK, pos)
        pos -= step
        f.seek(pos)
        block = f.read(step)
        index = len(block)
        while (index := block.rfind(b"\n", 0, index)) >= 0:
            boundaries += 1
            if boundaries == count:
                return pos + index + 1, count
    return 0, boundaries + 1


def _count_lines(segment: Segment) -> int:
    count, last = 0, b"\n"
    try:
        with gzip.GzipFile(fileobj=segment.file, mode="rb") as lines:
            while chunk := lines.read(CHUNK):
                count += chunk.count(b"\n")
                last = chunk[-1:]
    except BROKEN_GZIP:
        pass
    segment.file.seek(0)
    return count if last == b"\n" else count + 1


def last_entry_ns(f: BinaryIO) -> int | None:
    """The time of the last entry of a plain log file (None if its last line is not
    one); leaves `f` at its start."""
    offset, _ = tail_offset(f, 1)
    f.seek(offset)
    entry = decode_line(f.read(MAX_LINE_BYTES))
    f.seek(0)
    try:
        return None if entry is None else parse_ns(entry.time)
    except InvalidArgument:
        return None
