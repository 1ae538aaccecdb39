"""Dockerfile instructions that change only an image's config (`docker import --change`).

`apply_changes(config, ["CMD [\"sh\"]", "ENV A=1"])` returns a new container config
dict (the `config` member of an OCI image config). Only the instructions Docker allows
for `import --change` and `commit --change` are accepted.
"""

from __future__ import annotations

import copy
import json
import shlex
from typing import Any

from lamina.errors import InvalidArgument

ALLOWED = (
    "CMD",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "LABEL",
    "ONBUILD",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
)


def apply_changes(config: dict[str, Any], changes: list[str]) -> dict[str, Any]:
    out = copy.deepcopy(config)
    for change in changes:
        keyword, _, rest = change.strip().partition(" ")
        keyword = keyword.upper()
        if keyword not in ALLOWED:
            raise InvalidArgument(f"{keyword} is not a valid change command")
        rest = rest.strip()
        if not rest:
            raise InvalidArgument(f"{keyword} requires at least one argument")
        _APPLY[keyword](out, rest)
    return out


def _json_or_shell(rest: str) -> list[str]:
    if rest.startswith("["):
        try:
            value = json.loads(rest)
        except json.JSONDecodeError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    return ["/bin/sh", "-c", rest]


def _pairs(keyword: str, rest: str) -> list[tuple[str, str]]:
    """`k=v k2="v 2"` or the legacy one-pair form `k v w`."""
    words = _split(keyword, rest)
    if "=" not in words[0]:
        key, _, value = rest.partition(" ")
        return [(key, value.strip())]
    pairs = []
    for word in words:
        key, eq, value = word.partition("=")
        if not eq or not key:
            raise InvalidArgument(f"{keyword} names can not be blank: {word!r}")
        pairs.append((key, value))
    return pairs


def _split(keyword: str, rest: str) -> list[str]:
    try:
        return shlex.split(rest)
    except ValueError as err:
        raise InvalidArgument(f"{keyword} {rest}: {err}") from err


def _cmd(config: dict[str, Any], rest: str) -> None:
    config["Cmd"] = _json_or_shell(rest)


def _entrypoint(config: dict[str, Any], rest: str) -> None:
    config["Entrypoint"] = _json_or_shell(rest)


def _env(config: dict[str, Any], rest: str) -> None:
    env = list(config.get("Env") or [])
    for key, value in _pairs("ENV", rest):
        env = [e for e in env if e.split("=", 1)[0] != key] + [f"{key}={value}"]
    config["Env"] = env


def _label(config: dict[str, Any], rest: str) -> None:
    labels = dict(config.get("Labels") or {})
    labels.update(_pairs("LABEL", rest))
    config["Labels"] = labels


def _expose(config: dict[str, Any], rest: str) -> None:
    ports = dict(config.get("ExposedPorts") or {})
    for word in rest.split():
        port, _, proto = word.partition("/")
        if not port.replace("-", "").isdigit():
            raise InvalidArgument(f"invalid containerPort: {port}")
        ports[f"{port}/{(proto or 'tcp').lower()}"] = {}
    config["ExposedPorts"] = ports


def _volume(config: dict[str, Any], rest: str) -> None:
    paths = _json_or_shell(rest) if rest.startswith("[") else rest.split()
    if paths[:2] == ["/bin/sh", "-c"]:
        paths = rest.split()
    volumes = dict(config.get("Volumes") or {})
    volumes.update({p: {} for p in paths})
    config["Volumes"] = volumes


def _onbuild(config: dict[str, Any], rest: str) -> None:
    config["OnBuild"] = [*(config.get("OnBuild") or []), rest]


def _setter(field: str) -> Any:
    def apply(config: dict[str, Any], rest: str) -> None:
        config[field] = rest

    return apply


_APPLY = {
    "CMD": _cmd,
    "ENTRYPOINT": _entrypoint,
    "ENV": _env,
    "EXPOSE": _expose,
    "LABEL": _label,
    "ONBUILD": _onbuild,
    "STOPSIGNAL": _setter("StopSignal"),
    "USER": _setter("User"),
    "VOLUME": _volume,
    "WORKDIR": _setter("WorkingDir"),
}
