"""Container logs in Docker's json-file format: one JSON object per line.

    {"log":"hello\\n","stream":"stdout","time":"2024-05-01T12:00:00.123456789Z"}

The writer splits output at newlines as Docker's log copier does. A chunk that ends
mid-line is held until its newline arrives (so `printf a; printf b\\n` is one entry,
not two), until 16 KiB accumulate (Docker's limit; the entry is then written without
its newline), or until the stream ends. The reader serves `docker logs` with
`--tail`, `--since`, `--until` and `--follow`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple

from lamina.containers.timestamps import format_ns, parse_ns

MAX_LINE = 16 * 1024


class LogEntry(NamedTuple):
    stream: str  # "stdout" or "stderr"
    time: str  # RFC 3339 with nanoseconds, as written
    text: str  # includes the trailing newline when the line had one

    @property
    def nanos(self) -> int:
        return parse_ns(self.time)


def encode_entry(stream: str, text: str, time_text: str) -> bytes:
    doc = {"log": text, "stream": stream, "time": time_text}
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def append(path: Path, stream: str, text: str, *, time_ns: int | None = None) -> None:
    """Append one entry (e.g. a message the daemon adds); the monitor uses `LogWriter`."""
    stamp = format_ns(time.time_ns() if time_ns is None else time_ns)
    with open(path, "ab") as f:
        f.write(encode_entry(stream, text, stamp))


class LineBuffer:
    """Splits a byte stream into lines, holding an unfinished last line back."""

    def __init__(self) -> None:
        self._held = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._held += data
        cut = self._held.rfind(b"\n") + 1
        # Only "\n" ends a line: a TTY's "\r" (progress bars) stays inside it, as in Docker.
        complete = (
            [line + b"\n" for line in bytes(self._held[: cut - 1]).split(b"\n")] if cut else []
        )
        del self._held[:cut]
        # No entry over MAX_LINE, whole line or not (a held part plus its end can be).
        lines = [line[i : i + MAX_LINE] for line in complete for i in range(0, len(line), MAX_LINE)]
        while len(self._held) >= MAX_LINE:
            lines.append(bytes(self._held[:MAX_LINE]))
            del self._held[:MAX_LINE]
        return lines

    def drain(self) -> bytes:
        rest = bytes(self._held)
        self._held.clear()
        return rest


class LogWriter:
    """Appends a container's output to its json-file log; one instance per container."""

    def __init__(self, path: Path) -> None:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        self._fd = os.open(path, flags, 0o600)  # private: DESIGN.md invariant 8
        self._buffers = {"stdout": LineBuffer(), "stderr": LineBuffer()}

    def write(self, stream: str, data: bytes) -> None:
        self._emit(stream, self._buffers[stream].feed(data))

    def flush(self) -> None:
        """Write the held partial lines; called when the streams end."""
        for stream, buffer in self._buffers.items():
            rest = buffer.drain()
            if rest:
                self._emit(stream, [rest])

    def close(self) -> None:
        self.flush()
        os.close(self._fd)

    def _emit(self, stream: str, lines: list[bytes]) -> None:
        if not lines:
            return
        stamp = format_ns(time.time_ns())
        # One write per chunk: O_APPEND keeps whole entries together for readers.
        data = b"".join(encode_entry(stream, _text(line), stamp) for line in lines)
        while data:
            data = data[os.write(self._fd, data) :]


def _text(line: bytes) -> str:
    # Output is bytes; JSON wants text. Invalid UTF-8 becomes U+FFFD, as in Docker's logs.
    return line.decode(errors="replace")


def read_log(
    path: Path,
    *,
    since: float | None = None,
    until: float | None = None,
    tail: int | None = None,
    follow: bool = False,
    stop: Callable[[], bool] = lambda: True,
    poll_interval: float = 0.1,
) -> Iterator[LogEntry]:
    """Entries of the log at `path`, oldest first.

    `since`/`until` are Unix times in seconds; `tail` keeps the last N lines of the file
    (applied before `since`, as Docker does). With `follow`, new entries are served as
    they are written until `stop()` returns true (the container exited); the file is
    read once more after that, since the monitor completes the log before it records
    the exit. Malformed lines (a torn write after a host crash) are skipped.
    """
    since_ns = None if since is None else int(since * 1_000_000_000)
    until_ns = None if until is None else int(until * 1_000_000_000)
    for entry in _follow_lines(path, tail, follow, stop, poll_interval):
        nanos = entry.nanos
        if until_ns is not None and nanos > until_ns:
            return
        if since_ns is None or nanos >= since_ns:
            yield entry


def _follow_lines(
    path: Path, tail: int | None, follow: bool, stop: Callable[[], bool], interval: float
) -> Iterator[LogEntry]:
    f = _open_when_present(path, follow, stop, interval)
    if f is None:
        return
    with f:
        if tail is not None:
            f.seek(_tail_offset(f, tail))
        pending = b""
        stopped = not follow
        while True:
            data = f.read()
            lines = (pending + data).split(b"\n")
            pending = lines.pop()  # an entry still being written, or b""
            yield from _parse_lines(lines)
            if stopped:
                return
            stopped = stop()
            if not stopped:
                time.sleep(interval)


def _open_when_present(
    path: Path, follow: bool, stop: Callable[[], bool], interval: float
) -> BinaryIO | None:
    while True:
        try:
            return open(path, "rb")
        except FileNotFoundError:
            if not follow or stop():
                return None
            time.sleep(interval)


def _parse_lines(lines: list[bytes]) -> Iterator[LogEntry]:
    for line in lines:
        try:
            doc = json.loads(line)
            yield LogEntry(doc["stream"], doc["time"], doc["log"])
        except (ValueError, KeyError, TypeError):
            continue


def _tail_offset(f: BinaryIO, count: int) -> int:
    """Offset where the last `count` lines of the open file begin, reading backwards."""
    end = f.seek(0, os.SEEK_END)
    if end == 0:
        return 0
    f.seek(end - 1)
    # The newline that ends the last line is not a boundary between two of the lines.
    skip = count + 1 if f.read(1) == b"\n" else count
    if skip <= 0:
        return end
    pos = end
    while pos > 0:
        step = min(65536, pos)
        pos -= step
        f.seek(pos)
        block = f.read(step)
        idx = len(block)
        while (idx := block.rfind(b"\n", 0, idx)) >= 0:
            skip -= 1
            if skip == 0:
                return pos + idx + 1
    return 0
