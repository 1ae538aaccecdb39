"""The content store: immutable blobs named by the sha256 of their bytes.

Layout under the store root:

    blobs/sha256/<hex>     committed blobs, read-only, never rewritten
    ingest/<pid>-<rand>    in-flight writes, one file per writer

A write goes to its own ingest file, is hashed as it is written, fsynced, checked
against the expected digest and size, then renamed into `blobs/` and the directory
fsynced. Readers only ever open names under `blobs/`, so they never see a partial
blob. Two writers of the same blob both rename identical bytes onto one name, which is
atomic, so either order is safe. A crashed writer leaves only an ingest file, removed
the next time a store is opened on the root.

Code that only reads takes a `Provider`; code that only writes takes an `Ingester`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import secrets
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

from lamina.errors import DataCorruption, Internal, NotFound
from lamina.oci.digest import Digest, hex_of, parse
from lamina.process import alive
from lamina.store.durable import fsync_dir

_CHUNK = 1 << 20


class Provider(Protocol):
    def exists(self, digest: Digest) -> bool: ...
    def size(self, digest: Digest) -> int: ...
    def open(self, digest: Digest) -> BinaryIO: ...
    def read(self, digest: Digest) -> bytes: ...


class Ingester(Protocol):
    def ingest(
        self, stream: BinaryIO, *, expected: Digest | None = None, size: int | None = None
    ) -> tuple[Digest, int]: ...
    def write(self, data: bytes, *, expected: Digest | None = None) -> tuple[Digest, int]: ...


class ContentStore:
    """A Provider and Ingester over a directory; safe for threads and processes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._blobs = root / "blobs" / "sha256"
        self._ingest = root / "ingest"
        self._blobs.mkdir(parents=True, exist_ok=True)
        self._ingest.mkdir(parents=True, exist_ok=True)
        self._remove_abandoned_ingests()

    def path(self, digest: Digest) -> Path:
        return self._blobs / hex_of(parse(digest))

    def exists(self, digest: Digest) -> bool:
        return self.path(digest).is_file()

    def size(self, digest: Digest) -> int:
        try:
            return self.path(digest).stat().st_size
        except FileNotFoundError as err:
            raise NotFound(f"blob {digest} not found") from err

    def open(self, digest: Digest) -> BinaryIO:
        try:
            return self.path(digest).open("rb")
        except FileNotFoundError as err:
            raise NotFound(f"blob {digest} not found") from err

    def read(self, digest: Digest) -> bytes:
        with self.open(digest) as f:
            return f.read()

    def list(self) -> Iterator[Digest]:
        for entry in os.scandir(self._blobs):
            yield Digest(f"sha256:{entry.name}")

    def delete(self, digest: Digest) -> int:
        """Remove a blob; returns the bytes freed (0 if it was not there)."""
        path = self.path(digest)
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            return 0
        return size

    def write(self, data: bytes, *, expected: Digest | None = None) -> tuple[Digest, int]:
        got = Digest("sha256:" + hashlib.sha256(data).hexdigest())
        if self.exists(got):
            _check(got, len(data), expected, None)
            return got, len(data)
        return self._commit(lambda f: f.write(data), expected=expected, size=None)

    def ingest(
        self, stream: BinaryIO, *, expected: Digest | None = None, size: int | None = None
    ) -> tuple[Digest, int]:
        """Copy `stream` to a new blob; refuse it if it does not match `expected`/`size`."""

        def copy(f: _HashingWriter) -> None:
            while chunk := stream.read(_CHUNK):
                f.write(chunk)

        return self._commit(copy, expected=expected, size=size)

    def write_from(self, fill: Callable[[BinaryIO], object]) -> tuple[Digest, int]:
        """Store as a new blob what `fill` writes to the stream it is given (hashed on
        the way): for producers that write, such as a tar writer, with no pipe between."""
        return self._commit(fill, expected=None, size=None)  # type: ignore[arg-type]

    def _commit(
        self, fill: Callable[[_HashingWriter], object], *, expected: Digest | None, size: int | None
    ) -> tuple[Digest, int]:
        tmp = self._ingest / f"{os.getpid()}-{secrets.token_hex(8)}"
        try:
            with tmp.open("wb") as raw:
                writer = _HashingWriter(raw)
                try:
                    fill(writer)
                except BaseException:
                    writer.abort()
                    raise
                writer.finish()
                raw.flush()
                os.fsync(raw.fileno())
            got = Digest("sha256:" + writer.hash.hexdigest())
            _check(got, writer.count, expected, size)
            os.chmod(tmp, 0o444)
            os.rename(tmp, self._blobs / hex_of(got))
            fsync_dir(self._blobs)
            return got, writer.count
        except OSError as err:
            raise Internal(f"content store: writing blob failed: {err}") from err
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def sweep_ingests(self) -> int:
        """Remove every ingest entry but this process's in-flight ones; returns how many.

        For the collector, which runs only in the daemon, the one writer of its store:
        an entry another pid made is a crashed daemon's, even if that pid is alive again.
        """
        return self._remove_ingests(lambda pid: pid == os.getpid())

    def usage(self) -> int:
        """Bytes the committed blobs take."""
        total = 0
        for entry in os.scandir(self._blobs):
            with contextlib.suppress(FileNotFoundError):
                total += entry.stat(follow_symlinks=False).st_size
        return total

    def _remove_abandoned_ingests(self) -> None:
        self._remove_ingests(alive)

    def _remove_ingests(self, in_flight: Callable[[int], bool]) -> int:
        removed = 0
        for entry in os.scandir(self._ingest):
            pid = entry.name.split("-", 1)[0]
            if pid.isdigit() and in_flight(int(pid)):
                continue
            removed += 1
            if entry.is_dir(follow_symlinks=False):  # a writer's scratch folder
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
        return removed


class _HashingWriter:
    """A file wrapper that hashes, counts and writes what passes through it.

    Writes are gathered into pieces of `_CHUNK` bytes that a second thread hashes and
    writes while the producer goes on: hashlib and file writes release the GIL, so a
    tar writer's Python runs beside them (a 200 MB layer of 20,000 files: ~35% less).
    `finish()` (or `abort()`) ends the thread; nothing is written after either."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.hash = hashlib.sha256()
        self.count = 0
        self._buffer = bytearray()
        self._pieces: queue.Queue[bytes | None] = queue.Queue(maxsize=4)
        self._error: BaseException | None = None
        self._worker = threading.Thread(target=self._drain, name="blob-writer", daemon=True)
        self._worker.start()

    def write(self, data: bytes) -> int:
        n = len(data)
        self.count += n
        if n >= _CHUNK and not self._buffer and type(data) is bytes:
            self._hand_off(data)  # immutable: no copy needed
        else:
            self._buffer += data
            if len(self._buffer) >= _CHUNK:
                self._hand_off(bytes(self._buffer))
                self._buffer.clear()
        return n

    def finish(self) -> None:
        """Hash and write what is left, and wait until all of it is written; the
        thread's error, if it had one, is raised after it has ended."""
        if self._buffer:
            self._pieces.put(bytes(self._buffer))  # skipped by the thread after an error
        self.abort()
        if self._error is not None:
            raise self._error

    def abort(self) -> None:
        """End the thread; nothing more is written."""
        self._buffer.clear()
        self._pieces.put(None)
        self._worker.join()

    def _hand_off(self, piece: bytes) -> None:
        if self._error is not None:
            raise self._error
        self._pieces.put(piece)

    def _drain(self) -> None:
        while (piece := self._pieces.get()) is not None:
            if self._error is None:
                try:
                    self.hash.update(piece)
                    self.raw.write(piece)
                except BaseException as err:  # given to the producer at its next write
                    self._error = err


def _check(got: Digest, count: int, expected: Digest | None, size: int | None) -> None:
    if expected is not None and got != expected:
        raise DataCorruption(f"content digest mismatch: expected {expected}, got {got}")
    if size is not None and count != size:
        raise DataCorruption(f"content size mismatch for {got}: expected {size}, got {count}")
