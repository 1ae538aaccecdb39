"""Docker's list filters once parsed: `{"key": ["v1", "v2"]}`, read the same everywhere.

The API parses the query parameter (lamina.api.filters); services that filter read the
values with these helpers, so `dangling=true` means the same for images and volumes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence

from lamina.errors import InvalidArgument, LaminaError
from lamina.timestamps import parse_rfc3339

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


def labels_match(
    labels: Mapping[str, str], wanted: Sequence[str] = (), unwanted: Sequence[str] = ()
) -> bool:
    """Docker's `label` filters: every `key` or `key=value` of `wanted` holds (`key=` means
    an empty value), and none of `unwanted` (`label!`)."""
    return all(_holds(labels, w) for w in wanted) and not any(_holds(labels, u) for u in unwanted)


def _holds(labels: Mapping[str, str], want: str) -> bool:
    key, eq, value = want.partition("=")
    return key in labels and (not eq or labels[key] == value)


def timestamp(value: str) -> float:
    """A time filter's value (`until`): Unix seconds, an RFC 3339 time, or a Go duration
    like `24h` before now."""
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):
            raise InvalidArgument(f"invalid time filter {value!r}")
        return seconds
    units = {"s": 1, "m": 60, "h": 3600}
    if value[-1:] in units and value[:-1].replace(".", "", 1).isdigit():
        return time.time() - float(value[:-1]) * units[value[-1]]
    try:
        return parse_rfc3339(value)
    except (ValueError, LaminaError) as err:
        raise InvalidArgument(f"invalid time filter {value!r}") from err
