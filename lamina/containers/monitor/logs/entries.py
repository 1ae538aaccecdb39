"""Log entries in Docker's json-file format: one JSON object a line.

    {"log":"hello\\n","stream":"stdout","time":"2024-05-01T12:00:00.123456789Z"}

Output is split at newlines as Docker's log copier does. A chunk that ends mid-line is
held until its newline arrives (so `printf a; printf b\\n` is one entry, not two), until
16 KiB accumulate (Docker's limit; the entry is then written without its newline), or
until the stream ends. The `local` driver keeps the same lines (its format is
internal to the engine in Docker too; `logs` is how it is read).
"""

from __future__ import annotations

import json
import time
from json.encoder import encode_basestring as _json_text  # C, as json.dumps uses
from pathlib import Path
from typing import NamedTuple

from lamina.timestamps import format_ns, parse_ns

MAX_LINE = 16 * 1024
_NS = 1_000_000_000


class LogEntry(NamedTuple):
    stream: str  # "stdout" or "stderr"
    time: str  # RFC 3339 with nanoseconds, as written
    text: str  # includes the trailing newline when the line had one

    @property
    def nanos(self) -> int:
        return parse_ns(self.time)


def encode_entry(stream: str, text: str, time_text: str) -> bytes:
    """One line of the file: what `json.dumps(..., ensure_ascii=False)` writes for
    {"log", "stream", "time"}, put together by hand (three times faster)."""
    return f'{{"log":{_json_text(text)},"stream":"{stream}","time":"{time_text}"}}\n'.encode()


def encode_lines(stream: str, lines: list[bytes], now_ns: int) -> list[bytes]:
    """One entry per line, stamped `now_ns` plus its index: lines read together keep
    their order in time, and no two entries of a log share a time (a reader that lost
    its place after rotations finds it again by time)."""
    seconds, fraction = divmod(now_ns, _NS)
    prefix = format_ns(seconds * _NS)[:-11]  # "2024-05-01T12:00:00", formatted once
    return [
        encode_entry(
            stream,
            _text(line),
            f"{prefix}.{fraction + i:09d}Z" if fraction + i < _NS else format_ns(now_ns + i),
        )
        for i, line in enumerate(lines)
    ]


def decode_line(line: bytes) -> LogEntry | None:
    """The entry of one line of a log file; None for a malformed one (a torn write)."""
    try:
        doc = json.loads(line)
        entry = LogEntry(doc["stream"], doc["time"], doc["log"])
    except (ValueError, KeyError, TypeError):
        return None
    if not all(isinstance(field, str) for field in entry):
        return None
    return entry


def append(path: Path, stream: str, text: str, *, time_ns: int | None = None) -> None:
    """Append one entry to a log file (tests, tools); the monitor uses `LogWriter`."""
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


def _text(line: bytes) -> str:
    # Output is bytes; JSON wants text. Invalid UTF-8 becomes U+FFFD, as in Docker's logs.
    return line.decode(errors="replace")
