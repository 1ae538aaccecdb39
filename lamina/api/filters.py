"""The `filters` query parameter: `{"key": ["v1", "v2"]}` (or the old `{"key": {"v": true}}`)."""

from __future__ import annotations

from lamina.api.http import Request
from lamina.errors import InvalidArgument

Filters = dict[str, list[str]]


def parse_filters(request: Request, allowed: set[str]) -> Filters:
    raw = request.json_arg("filters") or {}
    if not isinstance(raw, dict):
        raise InvalidArgument("filters must be a JSON object")
    out: Filters = {}
    for key, values in raw.items():
        if key not in allowed:
            raise InvalidArgument(f"invalid filter '{key}'")
        if isinstance(values, dict):
            out[key] = [value for value, on in values.items() if on]
        elif isinstance(values, list):
            out[key] = [str(v) for v in values]
        else:
            raise InvalidArgument(f"invalid filter '{key}': expected a list of values")
    return out


def bool_filter(filters: Filters, key: str) -> bool | None:
    values = filters.get(key)
    if not values:
        return None
    value = values[-1].lower()
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise InvalidArgument(f"invalid filter '{key}={values[-1]}'")
