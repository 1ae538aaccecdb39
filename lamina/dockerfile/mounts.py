"""`RUN --mount=...`: the CSV option string, parsed and checked into a `Mount`.

Options follow buildkit: `type` (bind, the default; cache; tmpfs; secret; ssh), `target`
(`dst`, `destination`), `source` (`src`), `from`, `ro`/`readonly`, `rw`/`readwrite`,
`id`, `sharing` (shared, private, locked), `required`, `mode`, `uid`, `gid`, `size`.
Options apply in order, so `type=` must come before the options that depend on it.

String options (target, source, from, id) are kept as written; the builder expands
variables in them with the stage's ARG/ENV. Typed options (type, sharing, mode, uid,
gid, size, ro/rw, required) must be literal. `from` may not use variables at all: name
an alias stage instead (buildkit's rule).
"""

from __future__ import annotations

import csv
import enum
import re
from dataclasses import dataclass
from typing import Any, TypeVar

_E = TypeVar("_E", bound=enum.StrEnum)


class MountType(enum.StrEnum):
    BIND = "bind"
    CACHE = "cache"
    TMPFS = "tmpfs"
    SECRET = "secret"
    SSH = "ssh"


class Sharing(enum.StrEnum):
    SHARED = "shared"
    PRIVATE = "private"
    LOCKED = "locked"


class MountError(ValueError):
    """The mount options are malformed; the caller adds file and line."""


@dataclass(frozen=True, kw_only=True)
class Mount:
    type: MountType = MountType.BIND
    target: str = ""
    source: str = ""
    from_: str = ""  # a stage name or image; "" means the build context
    read_only: bool = True  # default: read-only except for cache and tmpfs
    cache_id: str = ""  # `id=`: the cache (or secret) identity; "" means the target
    sharing: Sharing | None = None  # None: not given (cache mounts are then shared)
    required: bool = False  # secret/ssh: fail when the secret is not provided
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    size: int | None = None  # tmpfs size limit in bytes


_STRING_KEYS = {
    "source": "source",
    "src": "source",
    "target": "target",
    "dst": "target",
    "destination": "target",
    "id": "cache_id",
}
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})
_SIZE_RE = re.compile(r"(\d+(?:\.\d*)?|\.\d+) ?(?:([kmgtp])(i?b)?|b)?", re.IGNORECASE)
_SIZE_UNITS = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_FILE_INFO_TYPES = frozenset({MountType.SECRET, MountType.SSH, MountType.CACHE})


def parse_mount(spec: str) -> Mount:
    """Parse one `--mount` value, e.g. `type=cache,target=/root/.cache,sharing=locked`."""
    fields: dict[str, Any] = {"type": MountType.BIND}
    read_only_given = False
    for item in _csv_fields(spec):
        key, has_value, value = item.partition("=")
        key = key.lower()
        if not has_value:
            _bare_option(fields, key, item)
        else:
            _option(fields, key, value, item)
        read_only_given = read_only_given or key in ("ro", "readonly", "rw", "readwrite")
    if not read_only_given:
        fields["read_only"] = fields["type"] not in (MountType.CACHE, MountType.TMPFS)
    mount = Mount(**fields)
    _validate(mount)
    return mount


def _csv_fields(spec: str) -> list[str]:
    try:
        rows = list(csv.reader([spec], strict=True))
    except csv.Error as err:
        raise MountError(f"failed to parse csv mounts: {err}") from None
    if not rows or not rows[0]:
        raise MountError("failed to parse csv mounts: empty mount options")
    return rows[0]


def _bare_option(fields: dict[str, Any], key: str, item: str) -> None:
    if key in ("readonly", "ro", "readwrite", "rw"):
        fields["read_only"] = key in ("readonly", "ro")
    elif key == "required":
        _require_type(fields, key, MountType.SECRET, MountType.SSH)
        fields["required"] = True
    else:
        raise MountError(f"invalid field '{item}' must be a key=value pair")


def _option(fields: dict[str, Any], key: str, value: str, item: str) -> None:
    if key in _STRING_KEYS:
        fields[_STRING_KEYS[key]] = value
    elif key == "type":
        fields["type"] = _choice(MountType, value, "unsupported mount type")
    elif key == "from":
        if re.search(r"\$.", value):
            raise MountError(
                "'from' doesn't support variable expansion, define alias stage instead"
            )
        fields["from_"] = value
    elif key in ("readonly", "ro", "readwrite", "rw"):
        flag = _parse_bool(key, value)
        fields["read_only"] = flag if key in ("readonly", "ro") else not flag
    elif key == "required":
        _require_type(fields, key, MountType.SECRET, MountType.SSH)
        fields["required"] = _parse_bool(key, value)
    elif key == "size":
        _require_type(fields, key, MountType.TMPFS)
        fields["size"] = _parse_size(value)
    elif key == "sharing":
        fields["sharing"] = _choice(Sharing, value, "unsupported sharing value")
    elif key in ("mode", "uid", "gid"):
        fields[key] = _parse_uint32(key, value, base=8 if key == "mode" else 10)
    else:
        raise MountError(f"unexpected key '{key}' in '{item}'")


def _validate(mount: Mount) -> None:
    if mount.type not in _FILE_INFO_TYPES:
        for name in ("mode", "uid", "gid"):
            if getattr(mount, name) is not None:
                raise MountError(f'{name} not allowed for "{mount.type}" type mounts')
    if mount.type is MountType.SECRET:
        if mount.from_:
            raise MountError("secret mount should not have a from")
        if mount.sharing is not None:
            raise MountError("secret mount should not define sharing")
        if not (mount.source or mount.target or mount.cache_id):
            raise MountError("invalid secret mount. one of source, target required")
        if mount.source and mount.cache_id:
            raise MountError("both source and id can't be set")
    if mount.sharing is not None and mount.type is not MountType.CACHE:
        raise MountError(f"invalid cache sharing set for {mount.type} mount")


def _require_type(fields: dict[str, Any], key: str, *allowed: MountType) -> None:
    if fields["type"] not in allowed:
        raise MountError(f"unexpected key '{key}' for mount type '{fields['type']}'")


def _choice(kind: type[_E], value: str, message: str) -> _E:
    try:
        return kind(value.lower())
    except ValueError:
        choices = ", ".join(member.value for member in kind)
        raise MountError(f'{message} "{value}" (one of: {choices})') from None


def _parse_bool(key: str, value: str) -> bool:
    if value in _TRUE or value in _FALSE:
        return value in _TRUE
    raise MountError(f"invalid value for {key}: {value}")


def _parse_uint32(key: str, value: str, *, base: int) -> int:
    digits = "01234567" if base == 8 else "0123456789"
    if not value or any(ch not in digits for ch in value) or int(value, base) >= 1 << 32:
        raise MountError(f"invalid value {value} for {key}")
    return int(value, base)


def _parse_size(value: str) -> int:
    """A tmpfs size such as `64m`, `1.5GiB` or `4096` (binary units, as docker's)."""
    match = _SIZE_RE.fullmatch(value)
    if match is None:
        raise MountError(f"invalid value for size: {value}")
    number, unit, _ = match.groups()
    return int(float(number) * _SIZE_UNITS.get((unit or "").lower(), 1))
