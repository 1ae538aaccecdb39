"""The image a stage has built so far: its config, its layers, and its ID once committed.

Each step turns one `ImageState` into the next (`derive`): a new config with one more
history entry and, for a step that changed files, one more layer. States are values; a
step never edits the state it was given.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from lamina.dockerfile.config import ContainerChange
from lamina.images.service import CommittedLayer, Image, ImageService
from lamina.oci.digest import Digest
from lamina.oci.image import Descriptor, empty_layer_history, layer_history, new_config

DEFAULT_SHELL = ["/bin/sh", "-c"]
# BuildKit gives images built FROM scratch a PATH, so RUN and the image find programs.
SCRATCH_ENV = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
HISTORY_COMMENT = "lamina.dockerfile.v0"


@dataclass(frozen=True)
class ImageState:
    config: dict[str, Any]  # the whole OCI image config; never mutated once made
    layers: tuple[CommittedLayer, ...]
    image_id: Digest | None  # None until something is committed (FROM scratch)

    @property
    def chain_id(self) -> Digest | None:
        return self.layers[-1].chain_id if self.layers else None

    @property
    def parent_key(self) -> str:
        """The cache key's `parent`: chain ID and config digest (see `cache.key.Origin`)."""
        return f"{self.chain_id or 'none'} {self.image_id or 'scratch'}"

    @property
    def container(self) -> dict[str, Any]:
        result: dict[str, Any] = self.config.get("config") or {}
        return result

    @property
    def env_list(self) -> list[str]:
        return list(self.container.get("Env") or [])

    @property
    def shell(self) -> list[str]:
        return list(self.container.get("Shell") or DEFAULT_SHELL)

    @property
    def workdir(self) -> str:
        return str(self.container.get("WorkingDir") or "/")

    @property
    def user(self) -> str:
        return str(self.container.get("User") or "")


def scratch(created: str) -> ImageState:
    config = new_config(diff_ids=[], history=[], config={"Env": SCRATCH_ENV}, created=created)
    return ImageState(config, (), None)


def from_image(images: ImageService, image: Image) -> ImageState:
    rows = images.layer_rows(image.id)
    layers = tuple(
        CommittedLayer(
            chain_id=row.chain_id,
            diff_id=row.diff_id,
            size=row.size,
            blob=Descriptor(row.media_type, row.blob, row.size)
            if row.blob and row.media_type
            else None,
        )
        for row in rows
    )
    return ImageState(image.config, layers, image.id)


def derive(
    state: ImageState,
    *,
    created: str,
    created_by: str,
    change: ContainerChange | None = None,
    layer: CommittedLayer | None = None,
    author: str | None = None,
) -> tuple[dict[str, Any], tuple[CommittedLayer, ...]]:
    """The config and layers after one step (not yet committed)."""
    config = copy.deepcopy(state.config)
    container = config.setdefault("config", {})
    if change is not None:
        change(container)
    entry = (layer_history if layer else empty_layer_history)(
        created_by, created=created, comment=HISTORY_COMMENT
    )
    config.setdefault("history", []).append(entry)
    layers = state.layers
    if layer is not None:
        config["rootfs"]["diff_ids"] = [*config["rootfs"].get("diff_ids", []), layer.diff_id]
        layers = (*layers, layer)
    config["created"] = created
    if author is not None:
        config["author"] = author
    return config, layers
