"""The content store: atomic, verified, safe under concurrent and killed writers."""

from __future__ import annotations

import hashlib
import io
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from unittest import mock

import pytest

from lamina.errors import DataCorruption, NotFound
from lamina.oci.digest import Digest
from lamina.store.content import ContentStore
from tests.support.wait import wait_for


def sha(data: bytes) -> Digest:
    return Digest("sha256:" + hashlib.sha256(data).hexdigest())


def test_write_names_blob_by_sha256(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    digest, size = store.write(b"hello")
    assert digest == sha(b"hello") and size == 5
    assert store.read(digest) == b"hello"
    assert store.size(digest) == 5
    assert list(store.list()) == [digest]


def test_blobs_are_read_only_files(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    digest, _ = store.write(b"x")
    assert store.path(digest).stat().st_mode & 0o222 == 0


def test_mismatched_digest_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    with pytest.raises(DataCorruption, match="expected sha256:"):
        store.ingest(io.BytesIO(b"evil"), expected=sha(b"good"))
    assert not store.exists(sha(b"evil")) and not store.exists(sha(b"good"))
    assert os.listdir(tmp_path / "ingest") == []


def test_wrong_size_is_refused(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    with pytest.raises(DataCorruption, match="size"):
        store.ingest(io.BytesIO(b"12345"), size=4)
    assert list(store.list()) == []


def test_missing_blob_is_not_found(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    with pytest.raises(NotFound, match="sha256:"):
        store.read(sha(b"nothing"))


def test_concurrent_writers_of_the_same_blob(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    data = os.urandom(3 << 20)
    results: list[tuple[Digest, int]] = []
    threads = [
        threading.Thread(target=lambda: results.append(store.ingest(io.BytesIO(data))))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {r[0] for r in results} == {sha(data)}
    assert store.read(sha(data)) == data
    assert os.listdir(tmp_path / "ingest") == []


WRITER = """
import sys, time
from pathlib import Path
from lamina.store.content import ContentStore

class Slow:
    def __init__(self): self.n = 0
    def read(self, size=-1):
        self.n += 1
        if self.n == 3:
            print("writing", flush=True)
        if self.n > 3:
            time.sleep(0.05)
        return b"x" * (1 << 20) if self.n < 200 else b""

ContentStore(Path(sys.argv[1])).ingest(Slow())
"""


def test_sigkill_mid_ingest_leaves_no_partial_blob(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"writing\n"
    wait_for(lambda: os.listdir(tmp_path / "ingest"), what="the writer's temp file in ingest/")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    store = ContentStore(tmp_path)  # a new store sweeps the dead writer's temp file
    assert list(store.list()) == []
    assert os.listdir(tmp_path / "ingest") == []
    data = b"x" * ((1 << 20) * 199)
    digest, size = store.ingest(io.BytesIO(data))
    assert size == len(data) and store.read(digest) == data


def test_live_writers_temp_files_survive_a_new_store(tmp_path: Path) -> None:
    ContentStore(tmp_path)
    mine = tmp_path / "ingest" / f"{os.getpid()}-abc"
    mine.write_bytes(b"partial")
    ContentStore(tmp_path)
    assert mine.exists()


def test_write_from_gathers_small_and_large_writes_in_order(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    pieces = [os.urandom(n) for n in (1, 512, 3 << 20, 7, 1 << 20, 100_000, 2 << 20)]
    pieces.append(bytearray(b"mutable"))

    def fill(out: io.BufferedIOBase) -> None:
        for piece in pieces:
            out.write(piece)
        pieces[-1][:] = b"changed"  # the writer must have copied it, not kept a view

    digest, size = store.write_from(fill)  # type: ignore[arg-type]
    expected = b"".join(bytes(p) for p in pieces[:-1]) + b"mutable"
    assert (digest, size) == (sha(expected), len(expected))
    assert store.read(digest) == expected


def test_write_from_failing_producer_leaves_nothing(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)

    def fill(out: io.BufferedIOBase) -> None:
        out.write(os.urandom(3 << 20))
        raise OSError("the producer failed")

    threads = threading.active_count()
    with pytest.raises(Exception, match="producer failed"):
        store.write_from(fill)  # type: ignore[arg-type]
    assert os.listdir(tmp_path / "ingest") == []
    assert list((tmp_path / "blobs" / "sha256").iterdir()) == []
    assert threading.active_count() == threads  # the writer's thread ended too


def test_write_from_failing_disk_ends_the_writer_thread(tmp_path: Path) -> None:
    """A write error in the writer's thread reaches the caller, and the thread ends
    even with a last piece still buffered."""
    store = ContentStore(tmp_path)

    class Full(io.RawIOBase):
        def writable(self) -> bool:
            return True

        def write(self, b: object) -> int:
            raise OSError(28, "No space left on device")

    def fill(out: io.BufferedIOBase) -> None:
        out.write(os.urandom(2 << 20))
        deadline = time.monotonic() + 5
        while getattr(out, "_error", None) is None and time.monotonic() < deadline:
            time.sleep(0.001)  # until the thread has failed on that piece
        out.write(b"a last piece, still buffered")

    threads = threading.active_count()
    full = mock.patch.object(Path, "open", lambda *_a, **_k: Full())
    with full, pytest.raises(Exception, match="No space left"):
        store.write_from(fill)  # type: ignore[arg-type]
    assert threading.active_count() == threads


def test_a_dead_writers_scratch_folder_is_removed_too(tmp_path: Path) -> None:
    ContentStore(tmp_path)
    scratch = tmp_path / "ingest" / "tmpabc123"
    (scratch / "sub").mkdir(parents=True)
    (scratch / "sub" / "rootfs.tar").write_bytes(b"x")
    ContentStore(tmp_path)  # a new store (a restarted daemon) must open
    assert not scratch.exists()
