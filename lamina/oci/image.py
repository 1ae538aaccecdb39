"""The OCI image model: configs, manifests and indexes as plain JSON dicts.

They stay dicts, not classes, because Docker and other builders add fields the OCI spec
does not name (`container_config`, `Healthcheck`, `OnBuild`, …) and an image ID is the
digest of the config's exact bytes: a model that dropped unknown fields would change
IDs on a round trip. So `new_*` build dicts, `parse_*` check the fields lamina relies on
and return the dict as read, and only `Descriptor`, the one shape everything points
with, is a class.

Checks follow what Docker accepts (Go's json.Unmarshal into its structs): a field
lamina reads must have the right type, `null` is that type's empty value, and unknown
fields pass through. Every error is InvalidArgument("invalid <what>: <where>: <why>").
"""

from __future__ import annotations

import copy
import json
import platform as _platform
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lamina.errors import InvalidArgument
from lamina.oci import mediatypes
from lamina.oci.digest import Digest, parse
from lamina.timestamps import parse_rfc3339, rfc3339

_MEDIA_TYPE_RE = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
)
_SIZE_MAX = 2**63 - 1
# platform.machine() → GOARCH (+ variant), as Docker and the OCI platform field spell them.
# arm64 carries no variant: containerd normalises "arm64/v8" to plain "arm64".
_GOARCH: dict[str, tuple[str, str | None]] = {
    "x86_64": ("amd64", None),
    "amd64": ("amd64", None),
    "aarch64": ("arm64", None),
    "arm64": ("arm64", None),
    "armv8l": ("arm", "v8"),
    "armv7l": ("arm", "v7"),
    "armv6l": ("arm", "v6"),
    "armv5tel": ("arm", "v5"),
    "armv5l": ("arm", "v5"),
    "i386": ("386", None),
    "i486": ("386", None),
    "i586": ("386", None),
    "i686": ("386", None),
    "ppc64le": ("ppc64le", None),
    "s390x": ("s390x", None),
    "riscv64": ("riscv64", None),
    "mips64": ("mips64", None),
    "loongarch64": ("loong64", None),
}


def canonical_json(obj: Any) -> bytes:
    """Deterministic JSON bytes: the same object always hashes to the same digest."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Descriptor:
    """A typed, sized pointer to a blob (OCI content descriptor).

    annotations and platform are copied on construction and left out of the hash, so
    descriptors can live in sets while staying immutable in practice.
    """

    media_type: str
    digest: Digest
    size: int
    annotations: Mapping[str, str] | None = field(default=None, hash=False)
    platform: Mapping[str, Any] | None = field(default=None, hash=False)

    def __post_init__(self) -> None:
        _check_media_type(self.media_type, "mediaType")
        _check_digest(self.digest, "digest")
        _check_size(self.size)
        if self.annotations is not None:
            object.__setattr__(self, "annotations", _string_map(self.annotations, "annotations"))
        if self.platform is not None:
            object.__setattr__(self, "platform", _checked_platform(self.platform))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": str(self.digest),
            "size": self.size,
        }
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.platform:
            out["platform"] = dict(self.platform)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Descriptor:
        """Check and convert a JSON descriptor; unknown fields (urls, data) are ignored."""
        if not isinstance(d, Mapping):
            raise InvalidArgument("invalid descriptor: expected a JSON object")
        try:
            return cls(
                media_type=_required(d, "mediaType", str),
                digest=Digest(_required(d, "digest", str)),
                size=_required(d, "size", int),
                annotations=_optional(d, "annotations", dict),
                platform=_optional(d, "platform", dict),
            )
        except InvalidArgument as err:
            raise InvalidArgument(f"invalid descriptor: {err}") from err


# --- configs ---------------------------------------------------------------------------


def new_config(
    *,
    diff_ids: list[Digest],
    history: list[dict[str, Any]],
    config: Mapping[str, Any] | None = None,
    created: str | None = None,
    architecture: str | None = None,
    os: str = "linux",
    author: str | None = None,
    variant: str | None = None,
) -> dict[str, Any]:
    """An OCI image config; architecture (and variant) default to the host's."""
    if architecture is None:
        host = host_platform()
        architecture, variant = host["architecture"], variant or host.get("variant")
    out: dict[str, Any] = {"created": created or rfc3339(time.time())}
    if author is not None:
        out["author"] = author
    out["architecture"] = architecture
    if variant:
        out["variant"] = variant
    out["os"] = os
    # Deep copies: the result must not change when the caller reuses its Env list.
    out["config"] = copy.deepcopy(dict(config or {}))
    out["rootfs"] = {"type": "layers", "diff_ids": [str(d) for d in diff_ids]}
    out["history"] = copy.deepcopy(history)
    _check("image config", out, _check_config)
    return out


def parse_config(data: bytes) -> dict[str, Any]:
    """Parse and check an image config (OCI or Docker); returns the dict as read."""
    return _check("image config", _load_object(data, "image config"), _check_config)


def empty_layer_history(
    created_by: str, *, created: str, comment: str | None = None
) -> dict[str, Any]:
    """A history entry for a step that changed only the config (ENV, CMD, …)."""
    return {**layer_history(created_by, created=created, comment=comment), "empty_layer": True}


def layer_history(created_by: str, *, created: str, comment: str | None = None) -> dict[str, Any]:
    """A history entry for a step that added a layer."""
    out: dict[str, Any] = {"created": created, "created_by": created_by}
    if comment is not None:
        out["comment"] = comment
    return out


def _check_config(obj: dict[str, Any]) -> None:
    for key in ("architecture", "os"):
        _required(obj, key, str)
    for key in ("author", "variant", "os.version"):
        _optional(obj, key, str)
    _string_list(obj, "os.features")
    _check_time(obj, "created")
    container = _optional(obj, "config", dict)
    if container is not None:
        _check_container_config(container)
    diff_ids = _check_rootfs(_required(obj, "rootfs", dict))
    history = _optional(obj, "history", list) or []
    for i, entry in enumerate(history):
        _check_history(entry, f"history[{i}]")
    # Docker's image store refuses the same inconsistency (image/store.go Create).
    layered = sum(1 for h in history if not h.get("empty_layer"))
    if layered > len(diff_ids):
        raise InvalidArgument(
            f"history has {layered} non-empty layers but rootfs has {len(diff_ids)} diff_ids"
        )


def _check_container_config(cfg: dict[str, Any]) -> None:
    where = "config."
    for key in ("User", "WorkingDir", "StopSignal"):
        _optional(cfg, key, str, where)
    for key in ("Env", "Cmd", "Entrypoint", "Shell", "OnBuild"):
        _string_list(cfg, key, where)
    for key in ("ExposedPorts", "Volumes"):
        for name, value in (_optional(cfg, key, dict, where) or {}).items():
            if not isinstance(value, dict):
                raise InvalidArgument(f"{where}{key}[{name!r}]: expected an object")
    if cfg.get("Labels") is not None:
        _string_map(_required(cfg, "Labels", dict, where), f"{where}Labels")
    _optional(cfg, "ArgsEscaped", bool, where)


def _check_rootfs(rootfs: dict[str, Any]) -> list[Any]:
    if rootfs.get("type") != "layers":
        raise InvalidArgument(f'rootfs.type: expected "layers", got {rootfs.get("type")!r}')
    # Docker omits diff_ids when an image has no layers (Go `omitempty`).
    diff_ids: list[Any] = _optional(rootfs, "diff_ids", list, "rootfs.") or []
    for i, value in enumerate(diff_ids):
        _check_digest(value, f"rootfs.diff_ids[{i}]")
    return diff_ids


def _check_history(entry: Any, where: str) -> None:
    if not isinstance(entry, dict):
        raise InvalidArgument(f"{where}: expected an object")
    for key in ("author", "created_by", "comment"):
        _optional(entry, key, str, f"{where}.")
    _optional(entry, "empty_layer", bool, f"{where}.")
    _check_time(entry, "created", f"{where}.")


# --- manifests and indexes ----------------------------------------------------------------


def new_manifest(
    config: Descriptor, layers: list[Descriptor], *, annotations: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """An OCI image manifest (schemaVersion 2)."""
    out: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_MANIFEST,
        "config": config.to_dict(),
        "layers": [layer.to_dict() for layer in layers],
    }
    if annotations:
        out["annotations"] = _string_map(annotations, "annotations")
    return out


def new_index(
    manifests: list[Descriptor], *, annotations: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """An OCI image index (schemaVersion 2)."""
    out: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_INDEX,
        "manifests": [m.to_dict() for m in manifests],
    }
    if annotations:
        out["annotations"] = _string_map(annotations, "annotations")
    return out


def parse_manifest(data: bytes) -> dict[str, Any]:
    """Parse and check an OCI image manifest or a Docker schema2 manifest."""
    return _check("manifest", _load_object(data, "manifest"), _check_manifest)


def parse_index(data: bytes) -> dict[str, Any]:
    """Parse and check an OCI image index or a Docker manifest list."""
    return _check("index", _load_object(data, "index"), _check_index)


def manifest_config(manifest: Mapping[str, Any]) -> Descriptor:
    """The config descriptor of a manifest returned by parse_manifest/new_manifest."""
    return Descriptor.from_dict(manifest["config"])


def manifest_layers(manifest: Mapping[str, Any]) -> list[Descriptor]:
    return [Descriptor.from_dict(d) for d in manifest["layers"]]


def index_manifests(index: Mapping[str, Any]) -> list[Descriptor]:
    return [Descriptor.from_dict(d) for d in index["manifests"]]


def _check_manifest(obj: dict[str, Any]) -> None:
    _check_schema_version(obj)
    media_type = _optional(obj, "mediaType", str)
    # OCI lets mediaType be absent (older writers); Docker schema2 always sets it.
    if media_type is not None and not mediatypes.is_manifest(media_type):
        kind = "an index" if mediatypes.is_index(media_type) else "not an image manifest"
        raise InvalidArgument(f"mediaType {media_type!r} is {kind}")
    _descriptor(_required(obj, "config", dict), "config")
    for i, layer in enumerate(_required(obj, "layers", list)):
        _descriptor(layer, f"layers[{i}]")
    _check_annotations(obj)


def _check_index(obj: dict[str, Any]) -> None:
    _check_schema_version(obj)
    media_type = _optional(obj, "mediaType", str)
    if media_type is not None and not mediatypes.is_index(media_type):
        kind = "a manifest" if mediatypes.is_manifest(media_type) else "not an index"
        raise InvalidArgument(f"mediaType {media_type!r} is {kind}")
    for i, entry in enumerate(_required(obj, "manifests", list)):
        _descriptor(entry, f"manifests[{i}]")
    _check_annotations(obj)


def _check_schema_version(obj: dict[str, Any]) -> None:
    version = _required(obj, "schemaVersion", int)
    if version == 1:
        raise InvalidArgument("schemaVersion 1 (Docker schema1) is not supported")
    if version != 2:
        raise InvalidArgument(f"schemaVersion: expected 2, got {version}")


def _check_annotations(obj: dict[str, Any]) -> None:
    if obj.get("annotations") is not None:
        _string_map(_required(obj, "annotations", dict), "annotations")


def _descriptor(value: Any, where: str) -> Descriptor:
    try:
        return Descriptor.from_dict(value)
    except InvalidArgument as err:
        raise InvalidArgument(f"{where}: {err}") from err


# --- time and platform ------------------------------------------------------------------


def host_platform() -> dict[str, str]:
    """This host as an OCI platform: `{"architecture": "amd64", "os": "linux"}`."""
    return linux_platform(_platform.machine())


def linux_platform(machine: str) -> dict[str, str]:
    """The OCI platform for a Linux `uname -m`: `aarch64` → `{"architecture": "arm64", …}`."""
    machine = machine.lower()
    arch, variant = _GOARCH.get(machine, (machine, None))
    out = {"architecture": arch, "os": "linux"}
    if variant:
        out["variant"] = variant
    return out


def _check_time(obj: Mapping[str, Any], key: str, where: str = "") -> None:
    value = _optional(obj, key, str, where)
    if value is not None:
        try:
            parse_rfc3339(value)
        except InvalidArgument as err:
            raise InvalidArgument(f"{where}{key}: {err}") from err


# --- field checks ---------------------------------------------------------------------


def _load_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        obj = json.loads(data, parse_constant=_no_constant)
    except (ValueError, RecursionError) as err:
        raise InvalidArgument(f"invalid {what}: not valid JSON: {err}") from err
    if not isinstance(obj, dict):
        raise InvalidArgument(f"invalid {what}: expected a JSON object")
    return obj


def _no_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity; JSON (and Go) do not.
    raise ValueError(f"{name} is not JSON")


def _check(
    what: str, obj: dict[str, Any], check: Callable[[dict[str, Any]], None]
) -> dict[str, Any]:
    """Run `check(obj)`, naming `what` in any error it raises."""
    try:
        check(obj)
    except InvalidArgument as err:
        raise InvalidArgument(f"invalid {what}: {err}") from err
    return obj


def _required(obj: Mapping[str, Any], key: str, kind: type, where: str = "") -> Any:
    if key not in obj:
        raise InvalidArgument(f"{where}{key}: required")
    return _typed(obj[key], kind, f"{where}{key}")


def _optional(obj: Mapping[str, Any], key: str, kind: type, where: str = "") -> Any:
    value = obj.get(key)
    return None if value is None else _typed(value, kind, f"{where}{key}")


def _typed(value: Any, kind: type, where: str) -> Any:
    # bool is an int in Python, not in JSON schema or Go: `"size": true` is an error.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InvalidArgument(f"{where}: expected {_JSON_NAMES[kind]}, got {value!r}")
    return value


_JSON_NAMES: dict[type, str] = {
    str: "a string",
    int: "an integer",
    bool: "a boolean",
    list: "an array",
    dict: "an object",
}


def _string_list(obj: Mapping[str, Any], key: str, where: str = "") -> None:
    for i, item in enumerate(_optional(obj, key, list, where) or []):
        _typed(item, str, f"{where}{key}[{i}]")


def _string_map(value: Mapping[str, Any], where: str) -> dict[str, str]:
    for key, item in value.items():
        _typed(key, str, where)
        _typed(item, str, f"{where}[{key!r}]")
    return dict(value)


def _checked_platform(value: Mapping[str, Any]) -> dict[str, Any]:
    where = "platform."
    _required(value, "architecture", str, where)
    _required(value, "os", str, where)
    _optional(value, "variant", str, where)
    _optional(value, "os.version", str, where)
    _string_list(value, "os.features", where)
    _string_list(value, "features", where)  # Docker manifest lists
    return dict(value)


def _check_media_type(value: str, where: str) -> None:
    if not isinstance(value, str) or not _MEDIA_TYPE_RE.fullmatch(value):
        raise InvalidArgument(f"{where}: invalid media type {value!r}")


def _check_digest(value: Any, where: str) -> None:
    _typed(value, str, where)
    try:
        parse(value)
    except InvalidArgument as err:
        raise InvalidArgument(f"{where}: {err}") from err


def _check_size(value: int) -> None:
    _typed(value, int, "size")
    if not 0 <= value <= _SIZE_MAX:
        raise InvalidArgument(f"size: out of range: {value}")
