"""A step's result made permanent: its diff as a layer, its config as an image.

The diff is the step's active snapshot's (its overlay upper dir), written by the layer
store as a deterministic OCI tar (whiteouts converted, mtimes clamped to
SOURCE_DATE_EPOCH when given) straight into the content store, stored uncompressed as
`import` does, so its blob digest is its diffID. The layer store then commits the
snapshot under its chainID, once: an identical diff from any Dockerfile maps to the
same layer. A step that changes nothing adds no layer (its history entry says
`empty_layer`), as BuildKit does.

Every step's config is committed as an (untagged) image whose parent is the previous
step's: the cache names results by image ID, `history` reads them, and `images`
hides them as it hides Docker's intermediate images. Each is held by the build's lease
from the transaction that records it, so no `image prune` or `rmi` takes it away
while the build runs (it is untagged and, until the next step, childless: dangling).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from typing import Any

from lamina.build.imagestate import ImageState, derive
from lamina.dockerfile.config import ContainerChange
from lamina.images.service import CommittedLayer, ImageService
from lamina.oci import mediatypes
from lamina.oci.digest import Digest, chain_ids
from lamina.oci.image import Descriptor
from lamina.store.gc import Lease
from lamina.timestamps import rfc3339


class Committer:
    """Commits one build's steps; what it commits, `lease` holds. `epoch` is the
    build's SOURCE_DATE_EPOCH: when given, every `created` is that time and file times
    in new layers are clamped to it."""

    def __init__(self, images: ImageService, lease: Lease, *, epoch: int | None = None) -> None:
        self.images = images
        self.lease = lease
        self.epoch = epoch

    def created(self) -> str:
        """A step's `created` time: now, or SOURCE_DATE_EPOCH when given."""
        return rfc3339(time.time() if self.epoch is None else self.epoch)

    def commit(
        self,
        state: ImageState,
        *,
        created_by: str,
        change: ContainerChange | None = None,
        snapshot: str | None = None,
        author: str | None = None,
    ) -> tuple[ImageState, Digest | None]:
        """The state after this step, committed; and the diffID of its layer, if any:
        the active snapshot `snapshot` (a layer store key) committed, which ends it."""
        # Held from the layer to the image row: a concurrent `rmi` must not free a
        # blob or layer between being stored here and being named by the image.
        with self.images.lock:
            layer = self._layer(snapshot) if snapshot else None
            config, layers = derive(
                state, created=self.created(), created_by=created_by, change=change,
                layer=layer, author=author,
            )  # fmt: skip
            image_id = self._commit(config, layers, state)
        return ImageState(config, layers, image_id), layer.diff_id if layer else None

    def rebase(self, state: ImageState, done: ImageState) -> ImageState:
        """A cached `COPY --link` result (`done`, made on another parent) on `state`:
        the same layer blob registered on this parent, the same history entry."""
        entry = done.config["history"][-1]
        reused = None if entry.get("empty_layer") else done.layers[-1]
        with self.images.lock:
            layer = self._register(reused, state.chain_id) if reused else None
            config, layers = derive(
                state, created=entry.get("created", ""), created_by=entry.get("created_by", ""),
                layer=layer,
            )  # fmt: skip
            image_id = self._commit(config, layers, state)
        return ImageState(config, layers, image_id)

    def relabel(self, state: ImageState, labels: Mapping[str, str]) -> ImageState:
        """`--label`s on the final image: a config change without a history entry."""
        config = copy.deepcopy(state.config)
        container = config.setdefault("config", {})
        container["Labels"] = {**(container.get("Labels") or {}), **labels}
        with self.images.lock:
            image_id = self._commit(config, state.layers, state)
        return ImageState(config, state.layers, image_id)

    def _commit(
        self, config: dict[str, Any], layers: tuple[CommittedLayer, ...], parent: ImageState
    ) -> Digest:
        return self.images.commit(config, list(layers), parent=parent.image_id, lease=self.lease)

    def _register(self, layer: CommittedLayer, parent: Digest | None) -> CommittedLayer:
        chain_id = chain_ids([parent, layer.diff_id])[-1] if parent else layer.diff_id
        if not self.images.layers.exists(chain_id):
            digest = layer.blob.digest if layer.blob else layer.diff_id
            with self.images.content.open(digest) as blob:
                chain_id = self.images.layers.register(parent, blob).chain_id
        return CommittedLayer(chain_id, layer.diff_id, layer.size, layer.blob)

    def _layer(self, snapshot: str) -> CommittedLayer | None:
        layers = self.images.layers
        if not layers.changed(snapshot):
            return None
        digest, size = self.images.content.write_from(
            lambda out: layers.diff(snapshot, out, source_date_epoch=self.epoch)
        )
        # The snapshot's upper dir already is the layer's tree as the driver keeps it:
        # moved into the layer store rather than extracted again from the blob.
        layer = layers.commit(snapshot, diff_id=digest, size=size)
        descriptor = Descriptor(mediatypes.OCI_LAYER_TAR, digest, size)
        return CommittedLayer(layer.chain_id, layer.diff_id, size, descriptor)
