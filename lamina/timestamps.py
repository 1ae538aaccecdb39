"""RFC 3339 times: the one place lamina writes and reads them.

Docker writes two forms, and each caller keeps the one Docker uses there:

    rfc3339(ts)    2024-05-01T12:00:00.5Z           Go's RFC3339Nano: trailing zeros of
                                                    the fraction dropped. Image configs,
                                                    Created and StartedAt, networks,
                                                    volumes, SystemTime.
    format_ns(ns)  2024-05-01T12:00:00.500000000Z   always nine digits (Docker's
                                                    RFC3339NanoFixed): log lines, which
                                                    then align and sort as text.

`rfc3339` takes float seconds (a float holds microseconds, no more); `format_ns` takes
integer nanoseconds, so nothing is lost between a log file, `--since` and
`docker logs -t`. Both parsers accept one grammar, Go's `time.RFC3339` (fraction
optional, `Z` or `±hh:mm`, ASCII digits, a real date). The container monitor imports
this module for `now()`: standard library only, and `datetime`/`calendar` are loaded
by the functions that need them, not at import.
"""

from __future__ import annotations

import math
import re
import time

from lamina.errors import InvalidArgument

_NS = 1_000_000_000
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})",
    re.ASCII,  # \d would otherwise match any Unicode digit, which int() then accepts
)


def format_ns(ns: int) -> str:
    """`2024-05-01T12:00:00.123456789Z`: UTC, always nine fraction digits (aligned logs)."""
    secs, frac = divmod(ns, _NS)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


def now() -> str:
    """This moment as `format_ns` writes it."""
    return format_ns(time.time_ns())


def rfc3339(ts: float) -> str:
    """UTC RFC 3339 as Go's RFC3339Nano writes it: trailing zeros of the fraction dropped.

    Precision is the microsecond: a float timestamp holds no more than that.
    """
    from datetime import UTC, datetime, timedelta

    try:
        whole = math.floor(ts)
        micros = round((ts - whole) * 1_000_000)
        whole, micros = whole + micros // 1_000_000, micros % 1_000_000
        t = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=whole)
    except (OverflowError, ValueError) as err:
        raise InvalidArgument(f"timestamp {ts} is not a time in years 1-9999") from err
    fraction = f".{micros:06d}".rstrip("0") if micros else ""
    # Not strftime: glibc's %Y does not zero-pad years before 1000 (Go's zero time).
    date = f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
    return date + fraction + "Z"


def parse_rfc3339(text: str) -> float:
    """Seconds since the epoch for an RFC 3339 time; digits beyond microseconds are cut."""
    seconds, nanos = _parse(text)
    # Whole seconds and microseconds are summed as integers, so the float is the nearest
    # one to the exact instant and rfc3339() gives the same string back.
    return (seconds * 1_000_000 + nanos // 1000) / 1_000_000


def parse_ns(text: str) -> int:
    """Nanoseconds since the epoch for an RFC 3339 time; digits beyond nine are cut."""
    seconds, nanos = _parse(text)
    return seconds * _NS + nanos


def _parse(text: str) -> tuple[int, int]:
    """(whole seconds since the epoch, nanoseconds) for RFC 3339 `text`, in UTC."""
    import calendar
    from datetime import datetime

    match = _RFC3339.fullmatch(text)
    if match is None:
        raise InvalidArgument(f"invalid RFC 3339 time {text!r}")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    try:
        datetime(year, month, day, hour, minute, second)
    except ValueError as err:
        raise InvalidArgument(f"invalid RFC 3339 time {text!r}: {err}") from err
    seconds = calendar.timegm((year, month, day, hour, minute, second))
    nanos = int((match[7] or "0")[:9].ljust(9, "0"))
    return seconds - _offset_seconds(match[8]), nanos


def _offset_seconds(zone: str) -> int:
    if zone in ("Z", "z"):
        return 0
    seconds = int(zone[1:3]) * 3600 + int(zone[4:6]) * 60
    return -seconds if zone[0] == "-" else seconds
