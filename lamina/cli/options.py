"""Flag values the commands share: `--filter key=value` and `--label/--opt key=value`."""

from __future__ import annotations

import json

from lamina.cli.main import UsageError


def filters(values: list[str]) -> dict[str, list[str]]:
    """`-f key=value` flags as the API's filters object; a value without "=" is a mistake."""
    out: dict[str, list[str]] = {}
    for value in values:
        key, eq, rest = value.partition("=")
        if not eq:
            raise UsageError(f"bad format of filter (expected name=value): {value}")
        out.setdefault(key.strip().lower(), []).append(rest)
    return out


def filters_query(values: list[str]) -> str | None:
    """`-f` flags as the `filters` query value of a list request (None when none)."""
    found = filters(values)
    return json.dumps(found) if found else None


def pairs(values: list[str]) -> dict[str, str]:
    """`--label k=v` flags as a mapping (a bare key maps to "")."""
    out: dict[str, str] = {}
    for value in values:
        key, _, rest = value.partition("=")
        out[key] = rest
    return out
