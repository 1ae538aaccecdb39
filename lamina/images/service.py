"""The image service: find, name, commit and remove images.

An image is a config blob (its sha256 is the image ID, as in Docker), an OCI manifest
blob lamina writes beside it, and the chain of layers its config's diff_ids name.
Committing records all three in one transaction after every blob and layer is on
disk, holding the collector's lock from the first write to that transaction.

Removing follows Docker's rules (`removal`: moby's ImageDelete) and never deletes a
blob or a layer itself: those go when the collector (store/gc.py), run right after,
finds nothing references them. Every image row is one of the collector's roots, and so
is every container's reference on its layers, so a force-removed image's layers stay
for as long as a container stands on them.

In-flight work holds what it uses with a lease (`Collector.acquire`): a container's
create its image's layers (`lease_layers`), a build every image it uses or commits
(`hold`, `commit(lease=…)`), which `rmi` and `prune` then leave in place.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lamina.errors import InvalidArgument, NotFound
from lamina.images import listing
from lamina.images.records import ImageRecords, ImageRow, LayerRow
from lamina.images.removal import Record, Removal
from lamina.oci import mediatypes
from lamina.oci.digest import Digest, chain_ids, hex_of, is_digest, is_hex
from lamina.oci.image import Descriptor, canonical_json, new_manifest, parse_config
from lamina.oci.reference import Reference, looks_like_id, parse_normalized
from lamina.store.content import ContentStore
from lamina.store.gc import Collected, Collector, Lease, Usage
from lamina.store.layers.store import LayerStore
from lamina.timestamps import parse_rfc3339


@dataclass(frozen=True)
class Image:
    """A resolved image: its row, its parsed config and the names that point at it."""

    row: ImageRow
    config: dict[str, Any]
    tags: list[Reference]
    digests: list[Reference]

    @property
    def id(self) -> Digest:
        return self.row.id


@dataclass(frozen=True)
class ImageUser:
    """A container that uses an image; Docker's removal rules ask whether it runs."""

    container_id: str
    running: bool


@dataclass(frozen=True)
class CommittedLayer:
    """A layer registered in the layer store, with the blob it came from."""

    chain_id: Digest
    diff_id: Digest
    size: int
    blob: Descriptor | None


class ImageService:
    def __init__(
        self,
        content: ContentStore,
        layers: LayerStore,
        records: ImageRecords,
        collector: Collector,
        *,
        containers_using: Callable[[Digest], list[ImageUser]] = lambda _id: [],
    ) -> None:
        self.content = content
        self.layers = layers
        self.records = records
        self.collector = collector
        # Work that stores blobs and layers holds this lock until a record names them,
        # so the collector never frees something a commit is about to name.
        self.lock = collector.lock
        self.containers_using = containers_using
        collector.add_roots(records.mark_roots)

    # -- lookup ---------------------------------------------------------------

    def resolve(self, name: str) -> Digest:
        """The image ID `name` refers to, tried as Docker does: a full ID, then a name
        (tag or name@digest), then a short-ID prefix."""
        if not name:
            raise InvalidArgument("image name must not be empty")
        hex_part = name.removeprefix("sha256:")
        if is_digest(name) or is_hex(hex_part):
            if self.records.get(f"sha256:{hex_part}") is None:
                raise NotFound(f"No such image: {name}")
            return Digest(f"sha256:{hex_part}")
        ref = parse_normalized(name) if not name.startswith("sha256:") else None
        if ref is not None:
            found = self.records.image_for_ref(ref if ref.digest else ref.with_default_tag())
            if found is not None:
                return found
        by_prefix = self._resolve_prefix(name)
        if by_prefix is not None:
            return by_prefix
        raise NotFound(f"No such image: {_familiar_input(ref) if ref else name}")

    def is_id(self, name: str) -> bool:
        """Whether `name` resolves as an ID (full or short) rather than as a name."""
        hex_part = name.removeprefix("sha256:")
        if is_digest(name) or is_hex(hex_part):
            return True
        if not name.startswith("sha256:"):
            ref = parse_normalized(name)
            if self.records.image_for_ref(ref if ref.digest else ref.with_default_tag()):
                return False
        return self._resolve_prefix(name) is not None

    def _resolve_prefix(self, name: str) -> Digest | None:
        if not looks_like_id(name):
            return None
        matches = self.records.ids_with_prefix(name.removeprefix("sha256:"))
        if len(matches) > 1:
            raise InvalidArgument(f"ambiguous image ID {name!r}: matches {len(matches)} images")
        return matches[0] if matches else None

    def get(self, name: str) -> Image:
        image_id = self.resolve(name)
        return self.load(image_id)

    def load(self, image_id: Digest) -> Image:
        row = self.records.get(image_id)
        if row is None:
            raise NotFound(f"No such image: {image_id}")
        config = parse_config(self.content.read(image_id))
        return Image(row, config, self.records.tags(image_id), self.records.digests(image_id))

    def all(self) -> list[Image]:
        return [self.load(row.id) for row in self.records.all()]

    def matching(
        self, filters: Mapping[str, list[str]] | None = None, *, all_: bool = False
    ) -> list[Image]:
        """`GET /images/json`: the images Docker's `filters` select, without `all_` not
        the untagged parents of others (lamina.images.listing)."""
        row_of = lambda name: self.get(name).row  # noqa: E731
        return listing.listed(self.all(), filters or {}, all_=all_, row_of=row_of)

    def count(self) -> int:
        return len(self.records.all())

    def size(self, image_id: str) -> int:
        """The image's size; 0 for one removed meanwhile (`system df`'s SizeRootFs)."""
        row = self.records.get(image_id)
        return row.size if row else 0

    def layer_dirs(self, image: Image) -> list[Path]:
        """The folders of its layers, top first, as the layer store keeps them (inspect's
        GraphDriver data)."""
        if not image.config["rootfs"]["diff_ids"]:
            return []
        return self.layers.chain_dirs(self.records.layers(image.id)[-1].chain_id)

    def layer_rows(self, image_id: Digest) -> list[LayerRow]:
        return self.records.layers(image_id)

    def top_chain(self, image_id: str) -> Digest | None:
        """The chainID of the image's top layer (None for an image with no layers)."""
        layers = self.records.layers(image_id)
        return layers[-1].chain_id if layers else None

    @contextlib.contextmanager
    def lease_layers(self, image_id: Digest, *, name: str) -> Iterator[Digest | None]:
        """The image's top chainID (None for an image without layers), kept by the
        collector for the `with` block even if the image is removed meanwhile: for a
        container's create, until its own reference is recorded. NotFound (naming
        `name`) if the image is gone already."""
        with self.collector.lease() as lease:
            # The row, then its layers: rows are deleted only under the same lock
            # (`removal`, inside `held_images`), so no rmi lands between the two reads.
            with lease.adding() as held:
                if self.records.get(image_id) is None:
                    raise NotFound(f"No such image: {name}")
                chain_id = self.top_chain(image_id)
                if chain_id:
                    held.layers.add(chain_id)
            yield chain_id

    def hold(self, lease: Lease, image_id: Digest, *, name: str) -> None:
        """Keep the image, its row too, for as long as `lease` is held: `rmi` refuses it,
        `prune` skips it, the collector keeps its blobs and layers. NotFound (naming
        `name`) if it is gone already."""
        with lease.adding() as held:
            if image_id in held.images:
                return
            row = self.records.get(image_id)
            if row is None:
                raise NotFound(f"No such image: {name}")
            held.images.add(image_id)
            held.blobs.add(image_id)
            if row.manifest:
                held.blobs.add(row.manifest)
            chain_id = self.top_chain(image_id)
            if chain_id:
                held.layers.add(chain_id)

    # -- commit ---------------------------------------------------------------

    def commit(
        self,
        config: dict[str, Any],
        layers: list[CommittedLayer],
        *,
        tags: Sequence[Reference] = (),
        parent: Digest | None = None,
        lease: Lease | None = None,
    ) -> Digest:
        """Store `config` over already-registered `layers`; tag it; return its ID. With
        `lease`, the new image is held there (`hold`) before anything can remove it."""
        diff_ids = [Digest(d) for d in config["rootfs"]["diff_ids"]]
        if diff_ids != [layer.diff_id for layer in layers]:
            raise InvalidArgument("image config diff_ids do not match the committed layers")
        if [layer.chain_id for layer in layers] != chain_ids(diff_ids):
            raise InvalidArgument("layer chain does not match the config's diff_ids")
        with self.lock:
            config_bytes = canonical_json(config)
            image_id, config_size = self.content.write(config_bytes)
            manifest_digest = self._write_manifest(image_id, config_size, layers)
            row = ImageRow(
                id=image_id,
                manifest=manifest_digest,
                created=_created(config),
                size=sum(layer.size for layer in layers),
                parent=parent,
                added=time.time(),
            )
            self.records.add(row, _layer_rows(layers))
            if lease is not None:
                self.hold(lease, image_id, name=image_id)
            for ref in tags:
                self.tag_id(image_id, ref)
        return image_id

    def _write_manifest(
        self, config_digest: Digest, config_size: int, layers: list[CommittedLayer]
    ) -> Digest:
        descriptors = [
            layer.blob or Descriptor(mediatypes.OCI_LAYER_TAR, layer.diff_id, layer.size)
            for layer in layers
        ]
        config_desc = Descriptor(mediatypes.OCI_CONFIG, config_digest, config_size)
        digest, _ = self.content.write(canonical_json(new_manifest(config_desc, descriptors)))
        return digest

    # -- names ----------------------------------------------------------------

    def tag(self, source: str, repo: str, tag: str | None) -> Reference:
        image_id = self.resolve(source)
        ref = parse_normalized(repo)
        if ref.digest:
            raise InvalidArgument(f"refusing to create a tag with a digest reference: {repo}")
        if tag:
            if ref.tag:
                raise InvalidArgument(f"invalid reference format: {repo}:{tag}")
            ref = ref.with_tag(tag)
        ref = ref.with_default_tag()
        self.tag_id(image_id, ref)
        return ref

    def tag_id(self, image_id: Digest, ref: Reference) -> None:
        if ref.name.endswith("/" + hex_of(image_id)) or looks_like_id(ref.familiar_name()):
            raise InvalidArgument(f"refusing to create an ambiguous tag using digest: {ref}")
        self.records.set_tag(ref, image_id)

    # -- removal --------------------------------------------------------------

    def remove(self, name: str, *, force: bool = False, prune: bool = True) -> list[Record]:
        """Docker's `rmi` (see `removal`); then free what nothing references any more."""
        with self.lock:
            image_id, by_id = self.resolve(name), self.is_id(name)
            with self.collector.held_images() as held:
                removal = Removal(self.records, self.containers_using, held)
                records = removal.remove(name, image_id, by_id=by_id, force=force)
        if records and "Deleted" in records[-1]:
            records += [{"Deleted": chain_id} for chain_id in self.collect().layers]
        return records

    def prune(
        self,
        *,
        dangling_only: bool = True,
        until: float | None = None,
        labels: Sequence[str] = (),
    ) -> tuple[list[Record], int]:
        """Remove unused images (dangling ones only, unless told otherwise); returns
        the records and the bytes the collector freed after."""
        with self.lock:
            images = self.all()
            with self.collector.held_images() as held:
                removal = Removal(self.records, self.containers_using, held)
                deleted = removal.prune(
                    images, dangling_only=dangling_only, until=until, labels=labels
                )
        collected = self.collect()
        deleted += [{"Deleted": chain_id} for chain_id in collected.layers]
        return deleted, collected.freed

    def collect(self) -> Collected:
        """Free every blob and layer nothing references (store/gc.py)."""
        return self.collector.collect()

    # -- accounting -----------------------------------------------------------

    def disk_usage(self) -> Usage:
        """What blobs and layer folders take on disk: all of them, referenced or not
        (after a collection, that is the same thing)."""
        return self.collector.usage()

    def shared_size(self, image_id: Digest) -> int:
        return sum(
            layer.size
            for layer in self.records.layers(image_id)
            if self.records.layer_users(layer.chain_id) > 1
        )

    def containers_count(self, image_id: Digest) -> int:
        return len(self.containers_using(image_id))


def _layer_rows(layers: list[CommittedLayer]) -> list[LayerRow]:
    rows: list[LayerRow] = []
    for layer in layers:
        rows.append(
            LayerRow(
                chain_id=layer.chain_id,
                diff_id=layer.diff_id,
                parent=rows[-1].chain_id if rows else None,
                size=layer.size,
                blob=layer.blob.digest if layer.blob else None,
                media_type=layer.blob.media_type if layer.blob else None,
            )
        )
    return rows


def _created(config: dict[str, Any]) -> float:
    created = config.get("created")
    return parse_rfc3339(created) if isinstance(created, str) else 0.0


def _familiar_input(ref: Reference) -> str:
    return ref.familiar() if ref.tag or ref.digest else ref.with_default_tag().familiar()
