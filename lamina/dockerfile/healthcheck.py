"""HEALTHCHECK's parts: the test command and the timing flags.

`HEALTHCHECK [--interval=D] [--timeout=D] [--start-period=D] [--start-interval=D]
[--retries=N] CMD command` or `HEALTHCHECK NONE`. Durations use Go's syntax (`30s`,
`1m30s`) and become nanoseconds, as image configs store them; 0 means unset.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from lamina.dockerfile import gotext
from lamina.dockerfile.flags import FlagKind, Flags, FlagSpec
from lamina.dockerfile.instructions import InstructionError

FLAGS: FlagSpec = {
    name: FlagKind.STRING
    for name in ("interval", "timeout", "start-period", "start-interval", "retries")
}
_MIN_INTERVAL_NS = 1_000_000  # docker's container.MinimumDuration (1ms)


def health_test(kind: str, rest: Sequence[str], *, is_json: bool) -> tuple[str, ...]:
    """The image-config test: ("NONE",), ("CMD", arg, ...) or ("CMD-SHELL", command)."""
    kind = kind.upper()
    if kind == "NONE":
        if rest:
            raise InstructionError("HEALTHCHECK NONE takes no arguments")
        return ("NONE",)
    if kind != "CMD":
        raise InstructionError(f"Unknown type {gotext.quote(kind)} in HEALTHCHECK (try CMD)")
    if not rest:
        raise InstructionError("Missing command after HEALTHCHECK CMD")
    return ("CMD", *rest) if is_json else ("CMD-SHELL", " ".join(rest))


def duration(flags: Flags, name: str) -> int:
    """A duration flag in nanoseconds (0 when absent); below 1ms is refused."""
    text = flags.string(name)
    if not text:
        return 0
    try:
        value = gotext.parse_duration(text)
    except ValueError as err:
        raise InstructionError(str(err)) from None
    if value != 0 and value < _MIN_INTERVAL_NS:
        raise InstructionError(f"Interval {gotext.quote(name)} cannot be less than 1ms")
    return value


def retries(flags: Flags) -> int:
    text = flags.string("retries")
    if not text:
        return 0
    if not re.fullmatch(r"[+-]?[0-9]+", text) or abs(int(text)) >= 1 << 31:
        raise InstructionError(f"invalid value for --retries: {gotext.quote(text)}")
    if int(text) < 0:
        raise InstructionError(f"--retries cannot be negative ({int(text)})")
    return int(text)
