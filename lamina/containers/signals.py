"""Signals as users name them (`SIGTERM`, `term`, `9`, `SIGRTMIN+3`), as runc takes them.

A container's StopSignal is checked when it is created, as dockerd does, so a bad one
is a 400 then rather than a stop that cannot signal; kill's and stop's `signal`
parameters are read the same way.
"""

from __future__ import annotations

import re
import signal as signals

from lamina.errors import InvalidArgument


def parse_signal(text: str) -> str:
    """`text` as runc's `kill` takes it ("" stays ""): SIGNAME, or a number for the
    real-time signals, which runc knows by number only. dockerd's message otherwise:
    `Invalid signal: X` (InvalidArgument)."""
    text = text.strip()
    if not text:
        return ""
    number = _signal_number(text)
    if number is None or not 0 < number <= signals.SIGRTMAX:
        raise InvalidArgument(f"Invalid signal: {text}")
    if number >= signals.SIGRTMIN:
        return str(number)
    return signals.Signals(number).name


def _signal_number(text: str) -> int | None:
    if text.isascii() and text.isdigit():
        return int(text) if len(text) <= 3 else None
    name = text.upper().removeprefix("SIG")
    for base, sign in (("RTMIN", 1), ("RTMAX", -1)):
        if name == base or name.startswith((f"{base}+", f"{base}-")):
            offset = name[len(base) :]
            if offset and not re.fullmatch(r"[+-][0-9]{1,2}", offset):
                return None
            start = signals.SIGRTMIN if base == "RTMIN" else signals.SIGRTMAX
            number = start + int(offset or 0)
            in_range = signals.SIGRTMIN <= number <= signals.SIGRTMAX
            return number if in_range and (not offset or int(offset) * sign > 0) else None
    found = signals.Signals.__members__.get(f"SIG{name}")
    return int(found) if found is not None else None
