"""Type checks of JSON request bodies against lamina/api/body_shapes.py's table.

A type expression is one of
- `str`, `bool`, `number` (finite), `object` (any JSON object), `strs` (a string or a
  list of strings: Go's strslice.StrSlice, as Cmd and Entrypoint are decoded);
- an integer type named for Go's (`int64`, `int32`, `uint16`, `uint32`, `uint64`): a JSON
  integer (not `1.0`, not `true`) in that type's range;
- `[T]`: an array of T; `[T;N]`: an array of exactly N of them (ConsoleSize's
  `[height, width]`); `{T}`: an object whose values are T;
- the name of a shape: an object whose known fields have the shape's types. Fields the
  spec does not define are left alone, as dockerd's decoder ignores them.

`null` is accepted wherever Go's decoder takes it: as a field's value ("not given"), and
as a map's value (`{"80/tcp": null}` in PortBindings, `{"a": null}` in Labels). Go
leaves the zero value there, so a null map value of a scalar type is replaced by that
zero value (`""` for a string, what dockerd stores and shows) and the domain only ever
sees the declared type; a null list or object stays null. A `null` inside an array is
refused, since nothing downstream can use one. These are the *types* only: which values
are applied or refused is the domain's (lamina/containers/options.py), which relies on
them and does not check types again.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

from lamina.api.body_shapes import SHAPES
from lamina.errors import InvalidArgument

Check = Callable[[Any, str], None]

INTEGERS = {
    "int64": (-(1 << 63), (1 << 63) - 1),
    "int32": (-(1 << 31), (1 << 31) - 1),
    "uint16": (0, (1 << 16) - 1),
    "uint32": (0, (1 << 32) - 1),
    "uint64": (0, (1 << 64) - 1),
}


def check_body(value: Any, shape: str) -> dict[str, Any]:
    """The decoded body `value` if it is an object of the named shape ({} for no body),
    its null map values of scalar types replaced by their zero values (in place)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidArgument(f"request body must be a JSON object, not {_kind(value)}")
    compiled(shape)(value, "")
    return value


@functools.cache
def compiled(expr: str) -> Check:
    """The check of a type expression (compiled once; shapes may refer to each other)."""
    if expr.startswith("["):
        item, semicolon, length = expr[1:-1].rpartition(";")
        if semicolon and length.isdigit():
            return functools.partial(_array, item=compiled(item), length=int(length))
        return functools.partial(_array, item=compiled(expr[1:-1]), length=None)
    if expr.startswith("{"):
        return functools.partial(_map, item=compiled(expr[1:-1]), zero=_ZEROS.get(expr[1:-1]))
    if expr in INTEGERS:
        return functools.partial(_integer, go_type=expr)
    if expr in _SCALARS:
        return _SCALARS[expr]
    if expr not in SHAPES:
        raise KeyError(f"no shape {expr!r} in lamina/api/body_shapes.py")
    return functools.partial(_shape, name=expr)


def _shape(value: Any, path: str, *, name: str) -> None:
    if not isinstance(value, dict):
        _refuse(path, "an object", value)
    for field, expr in SHAPES[name].items():
        item = value.get(field)
        if item is not None:
            compiled(expr)(item, f"{path}.{field}" if path else field)


def _array(value: Any, path: str, *, item: Check, length: int | None) -> None:
    if not isinstance(value, list):
        _refuse(path, "an array", value)
    if length is not None and len(value) != length:
        raise InvalidArgument(f"{path}: must be an array of {length} items, not {len(value)}")
    for i, element in enumerate(value):
        item(element, f"{path}[{i}]")


def _map(value: Any, path: str, *, item: Check, zero: Any) -> None:
    if not isinstance(value, dict):
        _refuse(path, "an object", value)
    for key, element in value.items():
        if element is None:
            value[key] = zero
        else:
            item(element, f"{path}[{key!r}]")


def _integer(value: Any, path: str, *, go_type: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        _refuse(path, f"an integer ({go_type})", value)
    low, high = INTEGERS[go_type]
    if not low <= value <= high:
        raise InvalidArgument(f"{path}: {value} is out of range for {go_type}")


def _number(value: Any, path: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        _refuse(path, "a number", value)
    if not math.isfinite(value):
        _refuse(path, "a finite number", value)


def _string(value: Any, path: str) -> None:
    if not isinstance(value, str):
        _refuse(path, "a string", value)


def _boolean(value: Any, path: str) -> None:
    if not isinstance(value, bool):
        _refuse(path, "a boolean", value)


def _object(value: Any, path: str) -> None:
    if not isinstance(value, dict):
        _refuse(path, "an object", value)


def _strings(value: Any, path: str) -> None:
    if isinstance(value, str):
        return
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        _refuse(path, "a string or an array of strings", value)


# Go's zero values, which its decoder leaves for a null map value of these types.
_ZEROS: dict[str, Any] = {"str": "", "bool": False, "number": 0, **dict.fromkeys(INTEGERS, 0)}

_SCALARS: dict[str, Check] = {
    "str": _string,
    "bool": _boolean,
    "number": _number,
    "object": _object,
    "strs": _strings,
}


def _refuse(path: str, expected: str, value: Any) -> Any:
    raise InvalidArgument(f"{path or 'value'}: must be {expected}, not {_kind(value)}")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"
