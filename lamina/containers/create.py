"""From a create's spec (lamina.containers.spec) and an image to a container's
configuration.

Docker's merge rules, which users rely on without knowing them:
- Entrypoint given (even `[""]`, which clears it) → the image's CMD is dropped unless
  Cmd is given too; otherwise Cmd defaults to the image's.
- Env: the image's, then the request's; a later `KEY=` wins over an earlier one.
- WorkingDir, User, StopSignal: the request's, else the image's.
- Labels and Volumes: the image's merged with the request's.

One departure: an image's HEALTHCHECK is not copied into the container's Config, since
lamina runs no health checks yet (issue #12); inspect then shows none rather than one
that never runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
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


def merge_config(request: Mapping[str, Any], image: dict[str, Any]) -> dict[str, Any]:
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


def _as_list(value: str | list[str]) -> list[str]:
    """Cmd and Entrypoint: a string or a list of them (Go's strslice), as the edge let in."""
    return [value] if isinstance(value, str) else list(value)


def parse_restart_policy(host_config: Mapping[str, Any]) -> dict[str, Any]:
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


_ARCHES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "i386": "386"}
_DEFAULT_VARIANT = {"arm64": "v8", "arm": "v7"}
_OSES = frozenset({"linux", "windows", "darwin", "freebsd", "netbsd", "openbsd", "solaris"})
_KNOWN_ARCHES = frozenset(
    {"amd64", "arm64", "arm", "386", "ppc64le", "ppc64", "s390x", "riscv64", "mips64le"}
)


def parse_platform(text: str) -> tuple[str, str, str]:
    """ "os[/arch[/variant]]" (or a lone arch) as containerd normalises it."""
    parts = text.lower().split("/")
    if len(parts) == 1 and parts[0] not in _OSES:
        parts = ["linux", *parts]
    if len(parts) == 1:
        parts.append(_host_arch())
    os_name, arch = parts[0], _ARCHES.get(parts[1], parts[1])
    variant = parts[2] if len(parts) > 2 else ""
    if len(parts) > 3 or os_name not in _OSES or arch not in _KNOWN_ARCHES:
        raise InvalidArgument(f'"{text}": unknown operating system or architecture')
    return os_name, arch, variant or _DEFAULT_VARIANT.get(arch, "")


def check_platform(text: str, image_ref: str, image_config: dict[str, Any]) -> None:
    """`POST /containers/create?platform=`: the image must be of that platform (400)."""
    wanted = parse_platform(text)
    os_name = str(image_config.get("os") or "linux")
    arch = _ARCHES.get(str(image_config.get("architecture") or ""), "")
    arch = arch or str(image_config.get("architecture") or "")
    variant = str(image_config.get("variant") or "") or _DEFAULT_VARIANT.get(arch, "")
    have = (os_name, arch, variant)
    if have[:2] != wanted[:2] or (wanted[2] and have[2] != wanted[2]):
        raise InvalidArgument(
            f"image with reference {image_ref} was found but its platform "
            f"({_format(have)}) does not match the specified platform ({_format(wanted)})"
        )


def _format(platform: tuple[str, str, str]) -> str:
    os_name, arch, variant = platform
    shown = variant if variant and variant != _DEFAULT_VARIANT.get(arch) else ""
    return "/".join(p for p in (os_name, arch, shown) if p)


def _host_arch() -> str:
    import platform

    machine = platform.machine().lower()
    return _ARCHES.get(machine, machine)
