"""Media types of OCI and Docker image objects, and what kind of object each names.

Docker's schema2 types and the OCI types describe the same shapes (an OCI manifest is a
Docker schema2 manifest with other strings), so lamina reads both and writes OCI. Docker
schema1 manifests (`application/vnd.docker.distribution.manifest.v1+*`) are deliberately
absent: they are signed JWS documents that registries stopped serving years ago.
"""

from __future__ import annotations

from lamina.errors import InvalidArgument

# OCI image spec (opencontainers/image-spec, specs-go/v1/mediatype.go).
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_TAR_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_TAR_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
# Shorter spellings of the same three (containerd's names).
OCI_LAYER = OCI_LAYER_TAR
OCI_LAYER_GZIP = OCI_LAYER_TAR_GZIP
OCI_LAYER_ZSTD = OCI_LAYER_TAR_ZSTD
# Deprecated by the spec but still found in the wild (Windows base layers).
OCI_LAYER_NONDISTRIBUTABLE = "application/vnd.oci.image.layer.nondistributable.v1.tar"
OCI_LAYER_NONDISTRIBUTABLE_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
OCI_LAYER_NONDISTRIBUTABLE_ZSTD = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
OCI_LAYOUT_VERSION = "1.0.0"

# Docker image manifest v2, schema 2 (distribution/distribution docs/spec/manifest-v2-2.md).
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER_FOREIGN_GZIP = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
# Not in Docker's spec, but containerd writes it for uncompressed layers.
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"

MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
CONFIG_TYPES = frozenset({OCI_CONFIG, DOCKER_CONFIG})

_UNCOMPRESSED = frozenset({OCI_LAYER, OCI_LAYER_NONDISTRIBUTABLE, DOCKER_LAYER})
_GZIP = frozenset(
    {OCI_LAYER_GZIP, OCI_LAYER_NONDISTRIBUTABLE_GZIP, DOCKER_LAYER_GZIP, DOCKER_LAYER_FOREIGN_GZIP}
)
_ZSTD = frozenset({OCI_LAYER_ZSTD, OCI_LAYER_NONDISTRIBUTABLE_ZSTD})

LAYER_TYPES = _UNCOMPRESSED | _GZIP | _ZSTD


def is_layer(mt: str) -> bool:
    return mt in LAYER_TYPES


def is_index(mt: str) -> bool:
    return mt in INDEX_TYPES


def is_manifest(mt: str) -> bool:
    return mt in MANIFEST_TYPES


def is_config(mt: str) -> bool:
    return mt in CONFIG_TYPES


def layer_compression(mt: str) -> str | None:
    """`"gzip"`, `"zstd"` or None (plain tar) for a layer media type.

    Raises InvalidArgument for any other type: a manifest that lists one as a layer is
    not an image lamina can unpack.
    """
    if mt in _GZIP:
        return "gzip"
    if mt in _ZSTD:
        return "zstd"
    if mt in _UNCOMPRESSED:
        return None
    raise InvalidArgument(f"unsupported layer media type {mt!r}")
