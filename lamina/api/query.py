"""Query parameters decoded into frozen values, before any domain code runs.

A handler declares what it reads as a frozen dataclass whose fields say how each
parameter is read, and decodes the request into it (podman's compat handlers do the
same with `decoder.Decode(&query, r.URL.Query())`):

    @dataclass(frozen=True)
    class StopQuery:
        t: int | None = query.integer(None)
        signal: str | None = query.signal()

    q = query.decode(req, StopQuery)

A value of the wrong type or out of range is a 400 naming the parameter. Parameters a
handler does not declare are ignored, as dockerd ignores unknown ones.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Collection, Sequence
from typing import Any, TypeVar

from lamina.api.filters import Filters, parse_filters
from lamina.api.http import Request
from lamina.api.wire import check_text, decode_json
from lamina.containers.signals import parse_signal
from lamina.errors import InvalidArgument

T = TypeVar("T")
Read = Callable[[str, Sequence[str]], Any]  # (parameter name, its values) → value

INT64 = (-(1 << 63), (1 << 63) - 1)
MAX_NAME = 253  # a container is found by name in DNS, whose names stop at 253 bytes
_CONTAINER_NAME = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
_FALSE = ("", "0", "no", "false", "none")  # dockerd's httputils.BoolValue


def decode(req: Request, cls: type[T]) -> T:
    """The request's query as a `cls`, each field read by the reader its metadata names."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        name = f.metadata.get("name", f.name)
        given = req.query.get(name)
        if given:
            values[f.name] = f.metadata["read"](name, given)
    return cls(**values)


def _param(default: Any, read: Read, name: str | None) -> Any:
    meta: dict[str, Any] = {"read": read}
    if name:
        meta["name"] = name
    return dataclasses.field(default=default, metadata=meta)


def text(default: str = "", *, name: str | None = None) -> Any:
    """The last value given, as text without NUL characters."""
    return _param(default, _last, name)


def texts(*, name: str | None = None) -> Any:
    """Every value given, in order (`?t=a&t=b`), as a tuple."""
    return _param((), lambda n, vs: tuple(check_text(v, f"parameter {n}") for v in vs), name)


def flag(default: bool = False, *, name: str | None = None) -> Any:
    """dockerd's booleans: empty, 0, no, false and none are false; anything else true."""
    return _param(default, lambda n, vs: _last(n, vs).strip().lower() not in _FALSE, name)


def integer(
    default: int | None, *, low: int = INT64[0], high: int = INT64[1], name: str | None = None
) -> Any:
    """A decimal integer in [low, high] (by default Go's int64, as dockerd's Atoi)."""

    def read(n: str, vs: Sequence[str]) -> int | None:
        value = _last(n, vs).strip()
        if not value:
            return default
        if not re.fullmatch(r"[+-]?[0-9]{1,20}", value):
            raise InvalidArgument(f"invalid value for parameter {n}: {value!r} is not an integer")
        number = int(value)
        if not low <= number <= high:
            raise InvalidArgument(f"invalid value for parameter {n}: {number} is out of range")
        return number

    return _param(default, read, name)


def signal(*, name: str | None = None) -> Any:
    """A signal by name (`SIGTERM`, `term`, `SIGRTMIN+3`) or number (1-64), as runc
    takes it; None when not given. dockerd answers `Invalid signal: X` with a 400."""
    return _param(None, lambda n, vs: parse_signal(_last(n, vs)) or None, name)


def json_map(*, name: str | None = None) -> Any:
    """A JSON object of strings (build args, labels); a null value is dropped, as the
    docker CLI sends `null` for `--build-arg NAME` when NAME is not in its env."""

    def read(n: str, vs: Sequence[str]) -> dict[str, str]:
        value = decode_json(_last(n, vs), f"parameter {n}")
        if value is None:
            return {}
        if not isinstance(value, dict) or not all(
            isinstance(v, str | None) for v in value.values()
        ):
            raise InvalidArgument(f"parameter {n} must be a JSON object of strings")
        return {k: v for k, v in value.items() if v is not None}

    meta: dict[str, Any] = {"read": read, **({"name": name} if name else {})}
    return dataclasses.field(default_factory=dict, metadata=meta)


def filters(allowed: Collection[str], *, name: str | None = None) -> Any:
    """`filters`: Docker's JSON filters, each key one of `allowed` (lamina.api.filters)."""

    def read(n: str, vs: Sequence[str]) -> Filters:
        return parse_filters(_last(n, vs), allowed, what=n)

    meta: dict[str, Any] = {"read": read, **({"name": name} if name else {})}
    return dataclasses.field(default_factory=dict, metadata=meta)


def container_name(*, name: str | None = None) -> Any:
    """A container name: Docker's pattern, at most MAX_NAME characters, without the
    leading slash Docker allows; "" when not given."""

    def read(n: str, vs: Sequence[str]) -> str:
        value = _last(n, vs)
        if value and len(value) > MAX_NAME:
            raise InvalidArgument(f"Invalid container name: longer than {MAX_NAME} characters")
        if value and not _CONTAINER_NAME.match(value):
            raise InvalidArgument(
                f"Invalid container name ({value}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )
        return value.removeprefix("/")

    return _param("", read, name)


def _last(name: str, values: Sequence[str]) -> str:
    return check_text(values[-1], f"parameter {name}")


def tail_lines(*, name: str | None = None) -> Any:
    """`tail`: a number of lines, or "all" (None); a negative number is all, as dockerd."""

    def read(n: str, vs: Sequence[str]) -> int | None:
        value = _last(n, vs).strip()
        if value in ("", "all"):
            return None
        try:
            lines = int(value) if len(value) <= 19 else None
        except ValueError:
            lines = None
        if lines is None:
            raise InvalidArgument(f"invalid {n} {value[:40]!r}: a number of lines, or all")
        return lines if lines >= 0 else None

    return _param(None, read, name)


def moment(*, name: str | None = None) -> Any:
    """`since`/`until`: unset or 0 (None), else Unix seconds, RFC 3339, or a duration
    before now (`10m`), in seconds since the epoch."""
    from lamina.filters import timestamp

    def read(n: str, vs: Sequence[str]) -> float | None:
        value = _last(n, vs).strip()
        if value in ("", "0"):
            return None
        try:
            return timestamp(value)
        except InvalidArgument as err:
            raise InvalidArgument(f"parameter {n}: {err}") from None

    return _param(None, read, name)


def unsupported(why: str, *, harmless: Collection[str] = (), name: str | None = None) -> Any:
    """A parameter lamina does not honour: absent, or a value that asks for nothing
    (`harmless`, besides "", 0, false, and empty or null JSON: what clients send by
    default), is accepted; anything else is a 400 naming it and saying `why`."""
    accepted = {*_FALSE, "[]", "{}", "null", *harmless}

    def read(n: str, vs: Sequence[str]) -> None:
        value = _last(n, vs)
        if value.strip().lower() not in accepted:
            raise InvalidArgument(f"{n}={value[:80]!r} is not supported by lamina: {why}")

    return _param(None, read, name)


def one_of(allowed: Collection[str], *, default: str = "", name: str | None = None) -> Any:
    """One of a few words (wait's `condition`): anything else is a 400 listing them."""

    def read(n: str, vs: Sequence[str]) -> str:
        value = _last(n, vs)
        if value and value not in allowed:
            raise InvalidArgument(
                f"invalid value for parameter {n}: {value!r} (one of {', '.join(allowed)})"
            )
        return value or default

    return _param(default, read, name)
