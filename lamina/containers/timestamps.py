"""RFC 3339 times with nanoseconds, the form Docker uses in logs and container state.

Times are carried as integer nanoseconds since the epoch so that nothing is lost between
the log file, `--since`, and `docker logs -t`. Parsing is hand-written (no `re`, no
`datetime`) because the monitor imports this module and should stay small.
"""

from __future__ import annotations

import time

from lamina.errors import InvalidArgument

_NS = 1_000_000_000


def format_ns(ns: int) -> str:
    """`2024-05-01T12:00:00.123456789Z`: UTC, always nine fraction digits (aligned logs)."""
    secs, frac = divmod(ns, _NS)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


def now() -> str:
    return format_ns(time.time_ns())


def parse_ns(text: str) -> int:
    """Nanoseconds since the epoch from RFC 3339 text (fraction optional, Z or ±hh:mm)."""
    try:
        return _parse(text)
    except (ValueError, IndexError) as err:
        raise InvalidArgument(f"invalid RFC 3339 time {text!r}") from err


def _parse(text: str) -> int:
    import calendar  # only readers parse; the monitor, which only formats, never loads it

    if len(text) < 20 or text[4] != "-" or text[10] not in "Tt ":
        raise ValueError(text)
    fields = (text[0:4], text[5:7], text[8:10], text[11:13], text[14:16], text[17:19])
    year, month, day, hour, minute, second = (int(f) for f in fields)
    secs = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    rest, frac = text[19:], 0
    if rest.startswith("."):
        digits = len(rest) - len(rest[1:].lstrip("0123456789"))
        frac = int(rest[1:digits].ljust(9, "0")[:9])
        rest = rest[digits:]
    return (secs - _offset_seconds(rest)) * _NS + frac


def _offset_seconds(zone: str) -> int:
    if zone in ("Z", "z"):
        return 0
    if len(zone) != 6 or zone[0] not in "+-" or zone[3] != ":":
        raise ValueError(zone)
    seconds = int(zone[1:3]) * 3600 + int(zone[4:6]) * 60
    return seconds if zone[0] == "+" else -seconds
