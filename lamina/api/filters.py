"""The `filters` query parameter: `{"key": ["v1", "v2"]}` (or the old `{"key": {"v": true}}`)."""

from __future__ import annotations

from lamina.api.http import Request
from lamina.errors import InvalidArgument
from lamina.filters import Filters, bool_filter

__all__ = ["Filters", "bool_filter", "parse_filters"]


def parse_filters(request: Request, allowed: set[str]) -> Filters:
    raw = request.json_arg("filters") or {}
    if not isinstance(raw, dict):
        raise InvalidArgument("filters must be a JSON object")
    out: Filters = {}
    for key, values in raw.items():
        if key not in allowed:
            raise InvalidArgument(f"invalid filter '{key}'")
        if isinstance(values, dict) and all(isinstance(on, bool) for on in values.values()):
            out[key] = [value for value, on in values.items() if on]
        elif isinstance(values, list) and all(isinstance(v, str) for v in values):
            out[key] = values
        else:
            raise InvalidArgument(f"invalid filter '{key}': expected a list of strings")
    return out
