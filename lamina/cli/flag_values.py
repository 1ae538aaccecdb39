"""The values of `run`/`create` flags, in docker's spellings, parsed into the API's fields.

Each function takes one flag's text (or the list of them) and returns what the docker
CLI sends for it, or raises UsageError naming the flag's value, as the docker CLI does
before any request is made.
"""

from __future__ import annotations

import re

from lamina.cli.main import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs every command ~2.5 ms to import
    from typing import Any

_UNITS = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def ulimit(spec: str) -> dict[str, Any]:
    """nofile=1024:2048 (soft:hard), or nofile=1024 (both)."""
    name, _, limits = spec.partition("=")
    soft, _, hard = limits.partition(":")
    try:
        return {"Name": name, "Soft": int(soft), "Hard": int(hard or soft)}
    except ValueError:
        raise UsageError(f"invalid ulimit argument: {spec}") from None


def device(spec: str) -> dict[str, str]:
    """/dev/x, /dev/x:/dev/y, /dev/x:rwm or /dev/x:/dev/y:rwm, as the docker CLI."""
    parts = spec.split(":")
    if len(parts) > 3 or not parts[0]:
        raise UsageError(f"invalid device specification: {spec}")
    mode = parts[-1] if len(parts) == 3 or (len(parts) == 2 and device_mode(parts[1])) else ""
    inside = parts[1] if len(parts) == 3 or (len(parts) == 2 and not mode) else parts[0]
    return {"PathOnHost": parts[0], "PathInContainer": inside, "CgroupPermissions": mode or "rwm"}


def device_mode(text: str) -> bool:
    return bool(text) and len(text) <= 3 and all(c in "rwm" for c in text)


def gpus(spec: str) -> list[dict[str, Any]]:
    count = -1 if spec == "all" else int(spec) if spec.isdigit() else 0
    return [{"Driver": "", "Count": count, "Capabilities": [["gpu"]]}]


def log_config(driver: str, opts: list[str]) -> dict[str, Any]:
    """As docker's CLI: `--log-opt k=v` (a bare `k` is k=""), none with options refused."""
    if driver == "none" and opts:
        raise UsageError("invalid logging opts for driver none")
    return {"Type": driver, "Config": dict(pair(o, "log-opt") for o in opts)}


def security_opt(option: str) -> str:
    """As the docker CLI: `seccomp=<file>` goes to the daemon as the file's JSON, so the
    profile is the one this user can read, fixed when the container is created."""
    key, sep, path = option.partition("=")
    if not sep:
        key, _, path = option.partition(":")
    if key != "seccomp" or path in ("builtin", "unconfined"):
        return option
    import json

    try:
        with open(path, encoding="utf-8") as f:
            profile = json.load(f)
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"opening seccomp profile ({path}) failed: {err}") from err
    except ValueError as err:
        raise UsageError(f"compacting json for seccomp profile ({path}) failed: {err}") from err
    return "seccomp=" + json.dumps(profile, separators=(",", ":"))


def env(files: list[str], values: list[str]) -> list[str]:
    """--env-file's lines, then -e's values; `-e NAME` (no "=") takes this environment's."""
    import os

    env = []
    for path in files:
        try:
            with open(path, encoding="utf-8") as f:
                lines = [line.strip() for line in f]
        except OSError as err:
            raise UsageError(f"open {path}: {err.strerror}") from err
        env += [line for line in lines if line and not line.startswith("#")]
    env += values
    return [e if "=" in e else f"{e}={os.environ[e]}" for e in env if "=" in e or e in os.environ]


def volumes(specs: list[str]) -> tuple[list[str], dict[str, dict[str, Any]]]:
    binds: list[str] = []
    anonymous: dict[str, dict[str, Any]] = {}
    for spec in specs:
        if spec.startswith("/") and ":" not in spec:
            anonymous[spec] = {}
        else:
            binds.append(spec)
    return binds, anonymous


def mount(spec: str) -> dict[str, Any]:
    fields = dict(pair(part, "mount") for part in spec.split(","))
    kind = fields.get("type", "volume")
    mount: dict[str, Any] = {
        "Type": kind,
        "Source": fields.get("source") or fields.get("src") or "",
        "Target": fields.get("target") or fields.get("destination") or fields.get("dst") or "",
        "ReadOnly": fields.get("readonly", fields.get("ro", "false")) in ("true", "1", ""),
    }
    if "readonly" not in fields and "ro" not in fields:
        mount["ReadOnly"] = False
    if kind == "tmpfs" and "tmpfs-size" in fields:
        mount["TmpfsOptions"] = {"SizeBytes": size(fields["tmpfs-size"])}
    if kind == "volume" and fields.get("volume-nocopy") in ("true", "1", ""):
        mount["VolumeOptions"] = {"NoCopy": True}
    return mount


def tmpfs(spec: str) -> tuple[str, str]:
    path, _, options = spec.partition(":")
    return path, options


def pair(text: str, what: str) -> tuple[str, str]:
    key, eq, value = text.partition("=")
    if not key:
        raise UsageError(f"invalid {what}: {text!r}")
    return key, value if eq else ""


def size(text: str) -> int:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([bkmg])?b?", text.strip().lower())
    if not match:
        raise UsageError(f"invalid size: '{text}'")
    return int(float(match.group(1)) * _UNITS[match.group(2) or "b"])


def size_or_zero(text: str | None) -> int:
    """A size flag's bytes; 0 (unset) when the flag is absent."""
    return size(text) if text else 0


def port_key(spec: str) -> str:
    port, _, proto = spec.partition("/")
    return f"{port}/{proto or 'tcp'}"


def port_bindings(specs: list[str]) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for spec in specs:
        spec, _, proto = spec.partition("/")
        parts = spec.rsplit(":", 2)
        container = parts[-1]
        host = parts[-2] if len(parts) >= 2 else ""
        ip = parts[0] if len(parts) == 3 else ""
        out.setdefault(f"{container}/{proto or 'tcp'}", []).append({"HostIp": ip, "HostPort": host})
    return out
