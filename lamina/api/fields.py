"""Typed reads of JSON request bodies: a wrong type is the client's mistake (400)."""

from __future__ import annotations

from typing import Any

from lamina.errors import InvalidArgument


def json_object(value: Any, what: str = "expected a JSON object") -> dict[str, Any]:
    """`value` as an object ({} when absent)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidArgument(what)
    return value


def string(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidArgument(f"{key} must be a string")
    return value


def strings(body: dict[str, Any], key: str) -> dict[str, str]:
    """An object of strings (labels, options); {} when absent."""
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise InvalidArgument(f"{key} must be an object of strings")
    return value
