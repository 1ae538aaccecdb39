"""`import`: a root filesystem tar becomes a one-layer image (as `docker import`).

The tar (plain or gzip) is stored uncompressed as the layer blob, so its digest is
also its diffID; the layer store unpacks it once, keyed by chainID, and an identical
tar imported again reuses both blob and layer.
"""

from __future__ import annotations

import time
from typing import Any, BinaryIO

from lamina.images.changes import apply_changes
from lamina.images.service import CommittedLayer, ImageService
from lamina.oci import mediatypes
from lamina.oci.digest import Digest
from lamina.oci.image import Descriptor, new_config
from lamina.oci.reference import Reference
from lamina.store.archive import open_layer
from lamina.timestamps import rfc3339


def import_rootfs(
    images: ImageService,
    stream: BinaryIO,
    *,
    tags: list[Reference],
    changes: list[str] = [],  # noqa: B006 (never mutated)
    message: str = "",
    source: str = "-",
    created: float | None = None,
    base_config: dict[str, Any] | None = None,
) -> Digest:
    """Store the tar in `stream` as a new image; return its ID. Whatever a refused or
    broken import stored goes with the collection that follows it."""
    try:
        return _import(images, stream, tags=tags, changes=changes, message=message,
                       source=source, created=created, base_config=base_config)  # fmt: skip
    except BaseException:
        images.collect()
        raise


def _import(
    images: ImageService,
    stream: BinaryIO,
    *,
    tags: list[Reference],
    changes: list[str],
    message: str,
    source: str,
    created: float | None,
    base_config: dict[str, Any] | None,
) -> Digest:
    with images.lock:
        layer = _store_layer(images, stream)
        when = rfc3339(time.time() if created is None else created)
        config = new_config(
            diff_ids=[layer.diff_id],
            history=[{"created": when, "comment": message or f"Imported from {source}"}],
            config=apply_changes(base_config or {}, changes),
            created=when,
        )
        return images.commit(config, [layer], tags=tags)


def _store_layer(images: ImageService, stream: BinaryIO) -> CommittedLayer:
    digest, size = images.content.ingest(open_layer(stream))
    if images.layers.exists(digest):  # a root layer's chainID is its diffID: stored once
        layer = images.layers.get(digest)
    else:
        with images.content.open(digest) as blob:
            layer = images.layers.register(None, blob)
    return CommittedLayer(
        chain_id=layer.chain_id,
        diff_id=layer.diff_id,
        size=size,
        blob=Descriptor(mediatypes.OCI_LAYER_TAR, digest, size),
    )
