"""From a `POST /containers/create` body and an image to a container's configuration.

Docker's merge rules, which users rely on without knowing them:
- Entrypoint given (even `[""]`, which clears it) → the image's CMD is dropped unless
  Cmd is given too; otherwise Cmd defaults to the image's.
- Env: the image's, then the request's; a later `KEY=` wins over an earlier one.
- WorkingDir, User, StopSignal: the request's, else the image's.
- Labels and Volumes: the image's merged with the request's.
"""

from __future__ import annotations

import re
from typing import Any

from lamina.errors import InvalidArgument

_NAME = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
DEFAULT_PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise InvalidArgument(
            f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )
    return name.removeprefix("/")


def merge_config(request: dict[str, Any], image: dict[str, Any]) -> dict[str, Any]:
    """The container's Config: the request's, filled in from the image's config."""
    config = dict(request)
    entrypoint = request.get("Entrypoint")
    cmd = request.get("Cmd")
    if entrypoint is not None:
        config["Entrypoint"] = [] if entrypoint in ([""], "") else _as_list(entrypoint)
        config["Cmd"] = _as_list(cmd) if cmd else None
    else:
        config["Entrypoint"] = image.get("Entrypoint")
        config["Cmd"] = _as_list(cmd) if cmd else image.get("Cmd")
    config["Env"] = merge_env(image.get("Env") or [], request.get("Env") or [])
    for key in ("WorkingDir", "User", "StopSignal"):
        config[key] = request.get(key) or image.get(key) or ""
    workdir = config["WorkingDir"]
    if workdir and not workdir.startswith("/"):
        raise InvalidArgument(
            f"the working directory '{workdir}' is invalid, it needs to be an absolute path"
        )
    config["Labels"] = {**(image.get("Labels") or {}), **(request.get("Labels") or {})}
    config["Volumes"] = {**(image.get("Volumes") or {}), **(request.get("Volumes") or {})}
    config["ExposedPorts"] = {
        **(image.get("ExposedPorts") or {}),
        **(request.get("ExposedPorts") or {}),
    } or None
    config.setdefault("Healthcheck", image.get("Healthcheck"))
    config["OnBuild"] = None
    return config


def command_of(config: dict[str, Any]) -> list[str]:
    argv = [*(config.get("Entrypoint") or []), *(config.get("Cmd") or [])]
    if not argv:
        raise InvalidArgument("no command specified")
    return argv


def merge_env(base: list[str], override: list[str]) -> list[str]:
    merged: dict[str, str] = {}
    for entry in [*base, *override]:
        key = entry.split("=", 1)[0]
        if not key:
            raise InvalidArgument(f"invalid environment variable: {entry}")
        merged.pop(key, None)  # keep Docker's order: an overridden key moves to the end
        merged[key] = entry
    if not any(k == "PATH" for k in merged):
        merged = {"PATH": DEFAULT_PATH_ENV, **merged}
    return list(merged.values())


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise InvalidArgument(f"invalid command: {value!r}")


def parse_restart_policy(host_config: dict[str, Any]) -> dict[str, Any]:
    policy = host_config.get("RestartPolicy") or {}
    name = policy.get("Name") or "no"
    if name not in ("no", "always", "unless-stopped", "on-failure"):
        raise InvalidArgument(f"invalid restart policy: {name}")
    retries = int(policy.get("MaximumRetryCount") or 0)
    if retries and name != "on-failure":
        raise InvalidArgument(
            "invalid restart policy: maximum retry count can only be used with 'on-failure'"
        )
    if retries < 0:
        raise InvalidArgument("invalid restart policy: maximum retry count cannot be negative")
    if name != "no" and host_config.get("AutoRemove"):
        raise InvalidArgument("can't create 'AutoRemove' container with restart policy")
    return {"Name": name, "MaximumRetryCount": retries}
