"""The collector: mark from the roots, sweep the rest (store/gc.py), on real stores."""

from __future__ import annotations

import io
import os
import tarfile
import threading
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import pytest

from lamina.oci.digest import Digest
from lamina.store.content import ContentStore
from lamina.store.gc import Collector, Marks
from lamina.store.layers import CopyDriver, LayerStore
from lamina.store.usage import tree_size


class Rows:
    """The images' `layers` table, as a dict: chainID → blob."""

    def __init__(self) -> None:
        self.rows: dict[Digest, Digest | None] = {}

    def layer_blobs(self) -> dict[Digest, Digest | None]:
        return dict(self.rows)

    def forget_layers(self, chain_ids: Collection[Digest]) -> None:
        for chain_id in chain_ids:
            del self.rows[chain_id]


@dataclass
class Lab:
    content: ContentStore
    layers: LayerStore
    rows: Rows
    collector: Collector
    roots: Marks  # what the test's one root source names

    def layer(self, name: str, parent: Digest | None = None) -> Digest:
        """Store a one-file layer as import does: its blob, its folder, its row."""
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            info = tarfile.TarInfo(name)
            info.size = len(name)
            tar.addfile(info, io.BytesIO(name.encode()))
        blob, _ = self.content.write(buf.getvalue())
        chain_id = self.layers.register(parent, io.BytesIO(buf.getvalue())).chain_id
        self.rows.rows[chain_id] = blob
        return chain_id

    def blob_of(self, chain_id: Digest) -> Digest:
        blob = self.rows.rows[chain_id]
        assert blob is not None
        return blob


@pytest.fixture
def lab(tmp_path: Path) -> Lab:
    content = ContentStore(tmp_path / "content")
    layers = LayerStore(tmp_path / "layers", CopyDriver(tmp_path / "layers"))
    rows = Rows()
    collector = Collector(content, layers, rows, log=lambda _m: None)
    roots = Marks()

    def source(marks: Marks) -> None:
        marks.blobs |= roots.blobs
        marks.layers |= roots.layers

    collector.add_roots(source)
    return Lab(content, layers, rows, collector, roots)


def test_what_nothing_references_is_swept(lab: Lab) -> None:
    base = lab.layer("base")
    top = lab.layer("top", base)
    config, _ = lab.content.write(b'{"config": 1}')
    lab.roots.blobs.add(config)
    lab.roots.layers.add(top)  # the top layer keeps its parent, and both their blobs
    stray_layer = lab.layer("stray")
    stray_layer_blob = lab.blob_of(stray_layer)
    stray_blob, stray_size = lab.content.write(b"nobody names me")
    unrecorded = lab.layers.register(None, io.BytesIO(_tar("unrecorded")))  # no row
    ingest = lab.content.root / "ingest"
    (ingest / "1-crashed").write_bytes(b"x")  # pid 1 lives, but it is not this daemon
    (ingest / f"{os.getpid()}-in-flight").write_bytes(b"y")
    stray_bytes = tree_size(lab.layers.chain_dirs(stray_layer)[0])
    stray_bytes += tree_size(lab.layers.chain_dirs(unrecorded.chain_id)[0])
    stray_bytes += lab.content.size(stray_layer_blob) + stray_size

    done = lab.collector.collect()

    assert set(done.layers) == {stray_layer, unrecorded.chain_id}
    assert set(done.blobs) == {stray_blob, stray_layer_blob}
    assert done.ingests == 1 and done.freed == stray_bytes
    assert lab.layers.committed() == sorted([base, top])
    assert set(lab.rows.rows) == {base, top}
    assert set(lab.content.list()) == {config, lab.blob_of(base), lab.blob_of(top)}
    assert os.listdir(ingest) == [f"{os.getpid()}-in-flight"]
    assert lab.collector.collect().freed == 0  # nothing left to free


def test_a_lease_holds_until_released(lab: Lab) -> None:
    chain_id = lab.layer("leased")
    with lab.collector.lease() as lease:
        with lease.adding() as held:
            held.layers.add(chain_id)
        assert lab.collector.collect().layers == ()
        assert lab.layers.exists(chain_id)
    assert lab.collector.collect().layers == (chain_id,)
    assert not lab.layers.exists(chain_id) and lab.rows.rows == {}


def test_an_acquired_lease_holds_until_its_release(lab: Lab) -> None:
    chain_id = lab.layer("held")
    image_id = Digest("sha256:" + "a" * 64)
    lease = lab.collector.acquire()
    with lease.adding() as held:
        held.layers.add(chain_id)
        held.images.add(image_id)
    assert lab.collector.collect().layers == ()
    with lab.collector.held_images() as images:
        assert images == {image_id}
    lease.release()
    lease.release()  # a second release does nothing
    with lab.collector.held_images() as images:
        assert images == frozenset()
    assert lab.collector.collect().layers == (chain_id,)


def test_an_abandoned_lease_holds_nothing_and_takes_no_lock(lab: Lab) -> None:
    """A finalizer abandons a lease; it may run while its own thread holds the lock."""
    chain_id = lab.layer("abandoned")
    lease = lab.collector.acquire()
    with lease.adding() as held:
        held.layers.add(chain_id)
        lease.abandon()  # would deadlock if it took the leases' lock
    assert lab.collector.collect().layers == (chain_id,)


def test_usage_counts_blobs_and_layer_folders(lab: Lab) -> None:
    chain_id = lab.layer("counted")
    usage = lab.collector.usage()
    assert usage.blobs == lab.content.size(lab.blob_of(chain_id))
    assert usage.layers == tree_size(lab.layers.chain_dirs(chain_id)[0]) > 0
    assert usage.total == usage.blobs + usage.layers


def _tar(name: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(name)
        tar.addfile(info, io.BytesIO(b""))
    return buf.getvalue()


def test_adding_to_a_lease_never_waits_for_a_commit(lab: Lab) -> None:
    """A create's lease must not queue behind an import holding the commit lock."""
    held, done = threading.Event(), threading.Event()

    def commit() -> None:
        with lab.collector.lock:
            held.set()
            done.wait(10)

    thread = threading.Thread(target=commit)
    thread.start()
    held.wait(10)
    try:
        with lab.collector.lease() as lease, lease.adding() as marks:
            marks.layers.add(lab.layer("x"))
    finally:
        done.set()
        thread.join()
