"""The `--name[=value]` flags an instruction accepts, and checking a node's flags.

Each instruction declares its flags (`FlagSpec`); anything else is an error naming the
flag, as buildkit's BFlags reports it (`unknown flag: --foo`). Bool flags accept
`--link`, `--link=true` and `--link=false`; string flags need `=value`; list flags
may repeat (`--mount` on RUN).
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


class FlagKind(enum.Enum):
    BOOL = "bool"
    STRING = "string"
    LIST = "list"  # may be given several times


FlagSpec = Mapping[str, FlagKind]


class FlagError(ValueError):
    """A flag is unknown, repeated or lacks a value; the caller adds file and line."""


@dataclass(frozen=True)
class Flags:
    """The values given for one instruction's flags (absent flags are absent)."""

    values: Mapping[str, bool | str | tuple[str, ...]]

    def string(self, name: str) -> str | None:
        value = self.values.get(name)
        return value if isinstance(value, str) else None

    def boolean(self, name: str) -> bool:
        return self.values.get(name) is True

    def strings(self, name: str) -> tuple[str, ...]:
        value = self.values.get(name, ())
        return value if isinstance(value, tuple) else ()


def parse_flags(given: Sequence[str], spec: FlagSpec) -> Flags:
    """Check `given` (e.g. `("--from=build", "--link")`) against `spec`."""
    values: dict[str, bool | str | tuple[str, ...]] = {}
    for raw in given:
        if raw == "--":
            break  # end of flags, as in POSIX utilities
        if not raw.startswith("--"):
            raise FlagError(f"arg should start with -- : {raw}")
        flag, has_value, value = raw.partition("=")
        name = flag[2:]
        kind = spec.get(name)
        if kind is None:
            raise FlagError(_unknown(flag, spec))
        if name in values and kind is not FlagKind.LIST:
            raise FlagError(f"duplicate flag specified: {flag}")
        values[name] = _value(kind, flag, bool(has_value), value, values.get(name, ()))
    return Flags(values)


def _value(
    kind: FlagKind, flag: str, has_value: bool, value: str, before: object
) -> bool | str | tuple[str, ...]:
    if kind is FlagKind.BOOL:
        if has_value and not value:
            raise FlagError(f"missing a value on flag: {flag}")
        if value.lower() not in ("", "true", "false"):
            raise FlagError(f"expecting boolean value for flag {flag}, not: {value}")
        return value.lower() != "false"
    if not has_value:
        raise FlagError(f"missing a value on flag: {flag}")
    if kind is FlagKind.LIST:
        return (*before, value) if isinstance(before, tuple) else (value,)
    return value


def _unknown(flag: str, spec: FlagSpec) -> str:
    message = f"unknown flag: {flag}"
    close = difflib.get_close_matches(flag[2:], list(spec), n=1)
    return f"{message} (did you mean --{close[0]}?)" if close else message
