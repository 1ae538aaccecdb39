"""Human-readable sizes and durations, exactly as the docker CLI prints them (go-units).

Shared by the CLI and by API fields Docker fills with such text (a container's
`Status`: "Up 5 seconds"); standard library only, so the CLI stays light.
"""

from __future__ import annotations

import math

_UNITS = ("B", "kB", "MB", "GB", "TB", "PB")


def human_size(size: float, precision: int = 3) -> str:
    """Decimal units, as docker prints them: three significant digits in `images`
    (`4.26MB`), four in `system df` (go-units HumanSize)."""
    unit = 0
    while size >= 1000 and unit < len(_UNITS) - 1:
        size /= 1000
        unit += 1
    return f"{size:.{precision}g}{_UNITS[unit]}"


def human_duration(seconds: float) -> str:
    """The docker CLI's coarse durations: "About a minute", "3 hours", "2 weeks"."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = s // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = round(seconds / 3600)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{s // 3600 // 24 // 365} years"


_PREFIXES = "kmgtp"


def parse_size(text: str, *, binary: bool = False) -> int:
    """go-units' size parser: `FromHumanSize` (k = 1000) or, with `binary`, `RAMInBytes`
    (k = 1024), with its error messages. "10m", "1.5GB", "20 MiB", "512" (bytes); the
    number is truncated to whole bytes after the unit is applied. ValueError if bad,
    or if the size does not fit go-units' int64."""
    sep = max(text.rfind(c) for c in "0123456789. ")
    if sep < 0:
        raise ValueError(f"invalid size: '{text}'")
    number, suffix = text[: sep + 1], text[sep + 1 :]
    if text[sep] == " ":
        number = text[:sep]
    size = _go_float(number)
    if size < 0:
        raise ValueError(f"invalid size: '{text}'")
    if not suffix:
        return _whole_bytes(size, text)
    if len(suffix) > 3:
        raise ValueError(f"invalid suffix: '{suffix}'")
    unit = suffix.lower()
    if unit == "b":
        return _whole_bytes(size, text)
    if unit[0] not in _PREFIXES or unit[1:] not in ("", "b", "ib"):
        raise ValueError(f"invalid suffix: '{unit}'")
    return _whole_bytes(size * (1024 if binary else 1000) ** (_PREFIXES.index(unit[0]) + 1), text)


_INT64_END = float(1 << 63)


def _whole_bytes(size: float, text: str) -> int:
    """go-units' int64(size). Go converts a float beyond int64 to a meaningless number
    (a negative one on amd64): such sizes, infinity included, are refused instead."""
    if size >= _INT64_END:
        raise ValueError(f"invalid size: '{text}': out of range for int64")
    return int(size)


def _go_float(text: str) -> float:
    """strconv.ParseFloat of a decimal number. Python's float() also takes what Go's
    refuses ("1_0", " 1", "inf"): those are refused first."""
    if not text or set(text) - set("0123456789.eE+-"):
        raise ValueError(f'strconv.ParseFloat: parsing "{text}": invalid syntax')
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f'strconv.ParseFloat: parsing "{text}": invalid syntax') from None
    if math.isinf(number):  # "1e400": Go answers ErrRange where Python gives infinity
        raise ValueError(f'strconv.ParseFloat: parsing "{text}": value out of range')
    return number
