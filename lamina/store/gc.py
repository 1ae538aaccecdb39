"""The garbage collector: layers and blobs are deleted only when nothing references them.

Nothing in lamina deletes a blob, a layer folder or a layer row itself: removing an
image deletes its rows (and names), removing a container deletes its row and with it
its reference on its layers, and then the collector runs. So deleting an image never
has to know who else uses a layer. (containerd's gc: mark from the roots, sweep the rest.)

Terms
    root      Something that keeps content: a record that names blobs and layers.
              Services register *root sources* that add their roots to a `Marks`:
              the image service (every image row, tagged or not, so build steps'
              intermediate images too: its config blob, manifest blob and layers),
              the container records (each container's reference on its top layer).
              Tags and repo digests name images, so they keep content through them;
              the build cache names results by image ID and needs nothing else.
    lease     In-flight work's claim on what it is about to reference or is using:
              blobs, layers, and images. A lease is a root while it is held. A
              container being created holds its image's top layer until its row
              does; a build holds every image it uses or commits (FROM from
              `prepare` on, cache hits, its steps' results), and an image a lease
              holds keeps its row too: `image prune` skips it and `rmi` refuses it
              (`held_images`), so a build never finds its own steps gone.
    locks     `Collector.lock`: work that writes a blob or layer and then records the
              reference holds it from the first write to the commit of the record
              (the image service's commits do, an import for all of its ingest), so
              the collector never sees the content without its reference. The
              collector holds it, and then the leases' own short lock, while it marks
              and takes dead things out of place; deleting their bytes happens after.
              Adding to a lease takes only the short lock (`Lease.adding`), so a
              container's create never waits for an import: check there that what
              you hold still exists, and the check and the hold are one step for
              any collection, and for any `rmi` or `prune`, which delete image rows
              only inside `held_images`.

Mark
    Ask every root source and lease for blobs and layers (chainIDs); add each marked
    layer's parents (a chainID stands on all of them), then the blob each live layer
    row was unpacked from (the `LayerIndex`, the images' `layers` table): a layer row
    kept keeps its blob, so the row never names a blob that is gone.

Sweep
    Every blob in content/blobs not marked; every file in content/ingest that is not
    an in-flight write of this daemon; every layer folder (layers/<hex>) not marked;
    every layer row not marked.

When it runs
    At daemon start (after containers are restored), so whatever a crash stranded
    between writing content and recording its reference is freed; and after
    removals: `rmi`, `image prune`, a failed import, and `rm` of a container whose
    image was force-removed (the last thing holding its layers), in the thread that
    asked for it. Running builds do not hold collections off: their leases keep what
    they use, and anything else is freed at once.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from lamina.errors import LaminaError
from lamina.oci.digest import Digest
from lamina.store.content import ContentStore
from lamina.store.layers.store import LayerStore

Log = Callable[[str], None]


@dataclass
class Marks:
    """What must stay: blob digests, layer chainIDs (a chainID keeps its parents) and,
    in a lease, image IDs."""

    blobs: set[Digest] = field(default_factory=set)
    layers: set[Digest] = field(default_factory=set)
    # Image rows that must stay: only leases name them (see `Collector.held_images`);
    # root sources keep content, and the rows are theirs already.
    images: set[Digest] = field(default_factory=set)


RootSource = Callable[[Marks], None]


class LayerIndex(Protocol):
    """The rows that describe committed layers (the images' `layers` table)."""

    def layer_blobs(self) -> dict[Digest, Digest | None]:
        """Every layer row: chainID → the blob it was unpacked from (None if none)."""
        ...

    def forget_layers(self, chain_ids: Collection[Digest]) -> None:
        """Delete these layer rows, in one transaction."""
        ...


@dataclass(frozen=True)
class Collected:
    """What one collection freed."""

    layers: tuple[Digest, ...] = ()  # chainIDs whose folders were removed
    blobs: tuple[Digest, ...] = ()
    ingests: int = 0  # stale ingest files and folders
    freed: int = 0  # bytes, as `system df` counts them


@dataclass(frozen=True)
class Usage:
    """Bytes on disk, as `system df` counts them."""

    blobs: int
    layers: int

    @property
    def total(self) -> int:
        return self.blobs + self.layers


class Lease:
    """Blobs, layers and images in-flight work is about to reference or is using: roots
    while it is held, until `release` (or `abandon`)."""

    def __init__(self, lock: threading.Lock, release: Callable[[Lease], None]) -> None:
        self._lock = lock
        self._release = release
        self.abandoned = False
        self.marks = Marks()

    @contextlib.contextmanager
    def adding(self) -> Iterator[Marks]:
        """Add to the lease's marks in the `with` block, which no collection, `rmi` or
        `prune` overlaps: what is checked there to exist stays."""
        with self._lock:
            yield self.marks

    def release(self) -> None:
        """Hold nothing any more; a second call does nothing."""
        self._release(self)

    def abandon(self) -> None:
        """`release` for a finalizer (weakref.finalize): it may run in any thread, at
        any allocation, even one that holds the leases' lock, so it takes no lock; the
        collector ignores the lease from now on and forgets it at its next `acquire`."""
        self.abandoned = True


class Collector:
    """Marks from the roots and sweeps the rest; see the module doc."""

    def __init__(
        self, content: ContentStore, layers: LayerStore, index: LayerIndex, *, log: Log
    ) -> None:
        self.content = content
        self.layers = layers
        self.index = index
        self.log = log
        self.lock = threading.RLock()
        self._leases_lock = threading.Lock()  # the leases; taken after `lock`
        self._sources: list[RootSource] = []
        self._leases: list[Lease] = []

    def add_roots(self, source: RootSource) -> None:
        self._sources.append(source)

    def acquire(self) -> Lease:
        """A lease held until its `release()`: for work that outlives one `with` block
        (a build, from its `prepare` to its end)."""
        lease = Lease(self._leases_lock, self._drop)
        with self._leases_lock:
            self._leases = [held for held in self._leases if not held.abandoned]
            self._leases.append(lease)
        return lease

    @contextlib.contextmanager
    def lease(self) -> Iterator[Lease]:
        """A lease for the `with` block: what it holds stays until the block ends."""
        lease = self.acquire()
        try:
            yield lease
        finally:
            lease.release()

    @contextlib.contextmanager
    def held_images(self) -> Iterator[frozenset[Digest]]:
        """The images leases hold. No lease adds one during the `with` block: an image
        row deleted there only when it is not in the set is never one a lease holds."""
        with self._leases_lock:
            yield frozenset().union(*(lease.marks.images for lease in self._live()))

    def _live(self) -> list[Lease]:
        return [lease for lease in self._leases if not lease.abandoned]

    def _drop(self, lease: Lease) -> None:
        with self._leases_lock:
            if lease in self._leases:
                self._leases.remove(lease)

    def collect(self) -> Collected:
        """Mark from the roots, sweep the rest; returns what was freed."""
        with self.lock, self._leases_lock:
            marks = self._mark()
            blobs, freed = self._sweep_blobs(marks.blobs)
            ingests = self.content.sweep_ingests()
            dead = [c for c in self.layers.committed() if c not in marks.layers]
            rows = self.index.layer_blobs()
            self.index.forget_layers([c for c in rows if c not in marks.layers])
            trash = [self.layers.discard(chain_id) for chain_id in dead]
        freed += sum(self.layers.purge(path) for path in trash)
        if dead or blobs or ingests:
            self.log(
                f"collector: freed {len(dead)} layers, {len(blobs)} blobs, "
                f"{ingests} stale ingests ({freed} bytes)"
            )
        return Collected(tuple(dead), tuple(blobs), ingests, freed)

    def usage(self) -> Usage:
        """What blobs and layer folders take on disk now."""
        layers = 0
        for chain_id in self.layers.committed():
            with contextlib.suppress(LaminaError, OSError):  # removed meanwhile
                layers += self.layers.usage(chain_id)
        return Usage(self.content.usage(), layers)

    def _mark(self) -> Marks:
        marks = Marks()
        for source in self._sources:
            source(marks)
        for lease in self._live():
            marks.blobs |= lease.marks.blobs
            marks.layers |= lease.marks.layers
        marks.layers |= self.layers.with_parents(marks.layers)
        rows = self.index.layer_blobs()
        marks.blobs |= {blob for chain, blob in rows.items() if blob and chain in marks.layers}
        return marks

    def _sweep_blobs(self, live: set[Digest]) -> tuple[list[Digest], int]:
        dead = [digest for digest in self.content.list() if digest not in live]
        return dead, sum(self.content.delete(digest) for digest in dead)
