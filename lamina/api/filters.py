"""The `filters` query parameter: `{"key": ["v1", "v2"]}` (or the old `{"key": {"v": true}}`).

Decoded at the edge like every other parameter: a handler's query declares
`filters: Filters = query.filters({...})` with the keys it serves (lamina.api.query).
"""

from __future__ import annotations

from collections.abc import Collection

from lamina.api.wire import decode_json
from lamina.errors import InvalidArgument
from lamina.filters import Filters, bool_filter

__all__ = ["Filters", "bool_filter", "parse_filters"]


def parse_filters(text: str, allowed: Collection[str], *, what: str = "filters") -> Filters:
    """`text` (the parameter's JSON) as filters, each key one of `allowed`."""
    raw = decode_json(text, f"parameter {what}") if text.strip() else None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidArgument(f"{what} must be a JSON object")
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
