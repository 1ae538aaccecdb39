"""Human-readable sizes and durations, exactly as the docker CLI prints them (go-units).

Shared by the CLI and by API fields Docker fills with such text (a container's
`Status`: "Up 5 seconds"); standard library only, so the CLI stays light.
"""

from __future__ import annotations

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
