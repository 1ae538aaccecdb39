"""Writing a container's log: the monitor's side.

`LogWriter` turns the container's output into entries (`entries.LineBuffer`) and
appends them to the current file, rotating it before an entry would take it past
max-size: the files never hold more than max-size times max-file between them (an
entry larger than max-size gets a file of its own). Docker rotates once the size is
reached, which lets each file grow one entry past it.

Threads, in the monitor's otherwise single-threaded loop:
- compression of a rotated file (tens of milliseconds a megabyte) runs beside the
  loop; the next rotation waits for it, as Docker's does;
- in non-blocking mode a thread does the writing, and output that arrives while
  `max-buffer-size` bytes wait is dropped (Docker's ring buffer): the container never
  waits for its log.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from lamina.containers.monitor.logs import files
from lamina.containers.monitor.logs.config import LogConfig
from lamina.containers.monitor.logs.entries import LineBuffer, encode_lines
from lamina.containers.monitor.logs.tail import last_entry_ns
from lamina.private import PRIVATE_DIR, PRIVATE_FILE

_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
Report = Callable[[str], None]


class LogWriter:
    """Appends a container's output to its log; one instance per container run."""

    def __init__(
        self, path: Path, config: LogConfig | None = None, *, report: Report = lambda _m: None
    ) -> None:
        """`report` hears of output that could not be written (a full disk): the
        container goes on, as with Docker, and its output is lost."""
        self._file = RotatingFile(path, config or LogConfig(), report=report)
        self._buffers = {"stdout": LineBuffer(), "stderr": LineBuffer()}
        size = self._file.config.buffer_size
        self._ring = None if size is None else RingBuffer(self._file.write, size)

    def write(self, stream: str, data: bytes) -> None:
        self._emit(stream, self._buffers[stream].feed(data))

    def flush(self) -> None:
        """Write the held partial lines; called when the streams end."""
        for stream, buffer in self._buffers.items():
            rest = buffer.drain()
            if rest:
                self._emit(stream, [rest])

    def close(self) -> None:
        """Everything written and the file closed; a compression may still run (`wait`)."""
        self.flush()
        if self._ring is not None:
            self._ring.close()
        self._file.close()

    def wait(self) -> None:
        """Until a rotated file being compressed is done (before the monitor exits)."""
        self._file.wait()

    def _emit(self, stream: str, lines: list[bytes]) -> None:
        if not lines:
            return
        now = time.time_ns()
        entries = encode_lines(stream, lines, now)
        if self._ring is not None:
            self._ring.put(entries, now, [len(line) for line in lines])
        else:
            self._file.write(entries, range(now, now + len(entries)))


class RotatingFile:
    """The current file of a log, rotated as the config says."""

    def __init__(self, path: Path, config: LogConfig, *, report: Report) -> None:
        self.path = path
        self.config = config
        self._report = report
        self._failed = False
        path.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        self._fd = _open(path)
        self._size = os.fstat(self._fd).st_size
        self._last_ns: int | None = None
        self._compression: threading.Thread | None = None
        self._resume_compression()

    def write(self, entries: Sequence[bytes], nanos: Sequence[int]) -> None:
        """Append the entries (stamped `nanos`), rotating first whenever the next would
        not fit. Entries that cannot be written are lost (and reported once until
        writing works again)."""
        try:
            self._write(entries, nanos)
            self._failed = False
        except OSError as err:
            if not self._failed:
                self._report(f"log {self.path.name}: output lost: {err}")
            self._failed = True

    def _write(self, entries: Sequence[bytes], nanos: Sequence[int]) -> None:
        limit = self.config.max_size
        if not entries:
            return
        if limit is None or self._size + sum(map(len, entries)) <= limit:
            self._append(b"".join(entries), nanos[-1])
            return
        start, held = 0, self._size
        for index, data in enumerate(entries):
            if held > 0 and held + len(data) > limit:
                if index > start:
                    self._append(b"".join(entries[start:index]), nanos[index - 1])
                self._rotate()
                start, held = index, 0
            held += len(data)
        self._append(b"".join(entries[start:]), nanos[-1])

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def wait(self) -> None:
        if self._compression is not None:
            self._compression.join()
            self._compression = None

    def _append(self, data: bytes, last_ns: int) -> None:
        if self._fd < 0:  # a rotation that could not open the new file: try again
            self._fd = _open(self.path)
            self._size = os.fstat(self._fd).st_size
        view = memoryview(data)
        while view:  # one write per batch: O_APPEND keeps whole entries together
            view = view[os.write(self._fd, view) :]
        self._size += len(data)
        self._last_ns = last_ns

    def _rotate(self) -> None:
        self.wait()
        os.close(self._fd)
        self._fd = -1
        cfg = self.config
        with files.locked(self.path, shared=False):  # readers see it done or not begun
            files.rotate(self.path, cfg.max_files, compress=cfg.compress)
            self._fd = _open(self.path, os.O_TRUNC)
        self._size = 0
        if cfg.compress and cfg.max_files > 1:
            self._compress(files.rotated_path(self.path, 1), self._last_ns)

    def _compress(self, path: Path, last_ns: int | None) -> None:
        self._compression = threading.Thread(
            target=self._compress_quietly, args=(path, last_ns), name="log-compress"
        )
        self._compression.start()

    def _compress_quietly(self, path: Path, last_ns: int | None) -> None:
        try:
            files.compress_file(path, last_ns)
        except OSError as err:  # the rotated file stays as it is: uncompressed, readable
            self._report(f"log compression of {path.name} failed: {err}")

    def _resume_compression(self) -> None:
        """A monitor that ended during a compression left .1 (and maybe a partial .gz)."""
        if not self.config.compress:
            return
        first = files.rotated_path(self.path, 1)
        first.with_name(first.name + ".gz.tmp").unlink(missing_ok=True)
        if first.exists():
            self._compress(first, _last_entry_ns(first))


def _open(path: Path, flags: int = 0) -> int:
    """The log's current file for appending, 0600: one an older lamina (or another
    umask) made is tightened, as `private.open_append` does."""
    fd = os.open(path, _FLAGS | flags, PRIVATE_FILE)
    try:
        os.fchmod(fd, PRIVATE_FILE)
    except OSError:
        os.close(fd)
        raise
    return fd


def _last_entry_ns(path: Path) -> int | None:
    with open(path, "rb") as f:
        return last_entry_ns(f)


class RingBuffer:
    """Docker's non-blocking mode: `put` never waits; a thread writes what is queued,
    and an entry that would take the queue past `max_bytes` of output is dropped
    (unless the queue is empty: an entry always fits then)."""

    def __init__(self, write: Callable[[list[bytes], list[int]], None], max_bytes: int) -> None:
        self._write = write
        self._max = max_bytes
        self._queue: collections.deque[tuple[bytes, int, int]] = collections.deque()
        self._bytes = 0
        self._closed = False
        self._ready = threading.Condition()
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="log-writer", daemon=True)
        self._thread.start()

    def put(self, entries: list[bytes], first_ns: int, sizes: list[int]) -> None:
        """Queue entries stamped `first_ns`, `first_ns + 1`, …, carrying `sizes` bytes
        of output each (what the buffer counts, as Docker's counts message lines)."""
        with self._ready:
            for index, (data, size) in enumerate(zip(entries, sizes, strict=True)):
                if self._queue and self._bytes + size > self._max:
                    self.dropped += 1
                    continue
                self._queue.append((data, first_ns + index, size))
                self._bytes += size
            self._ready.notify()

    def close(self) -> None:
        """Write what is queued, then stop the thread."""
        with self._ready:
            self._closed = True
            self._ready.notify()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._queue and not self._closed:
                    self._ready.wait()
                if not self._queue:
                    return
                batch = list(self._queue)
                self._queue.clear()
                self._bytes = 0
            self._write([data for data, _, _ in batch], [nanos for _, nanos, _ in batch])
