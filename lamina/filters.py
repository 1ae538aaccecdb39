"""Docker's list filters once parsed: `{"key": ["v1", "v2"]}`, read the same everywhere.

The API parses the query parameter (lamina.api.filters); services that filter read the
values with these helpers, so `dangling=true` means the same for images and volumes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from lamina.errors import InvalidArgument

Filters = dict[str, list[str]]


def bool_filter(filters: Mapping[str, Sequence[str]], key: str) -> bool | None:
    """The last value of a true/false filter, or None when it is not given."""
    values = filters.get(key)
    if not values:
        return None
    value = values[-1].lower()
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise InvalidArgument(f"invalid filter '{key}={values[-1]}'")
