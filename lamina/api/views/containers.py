"""Containers as the Docker Engine API shows them (ContainerSummary, ContainerInspect)."""

from __future__ import annotations

import shlex
import time
from typing import Any

from lamina.containers.model import Container, Status
from lamina.timestamps import parse_rfc3339
from lamina.units import human_duration

_NOT_SET = "0001-01-01T00:00:00Z"


def summary(c: Container, *, network: dict[str, Any] | None = None) -> dict[str, Any]:
    """`network`: Ports and Networks from lamina.networks (empty without networks)."""
    network = network or {}
    return {
        "Id": c.id,
        "Names": [f"/{c.name}"],
        "Image": c.image,
        "ImageID": c.image_id,
        "Command": " ".join(shlex.quote(a) if " " in a else a for a in [c.path, *c.args]),
        "Created": int(parse_rfc3339(c.created)),
        "Ports": network.get("Ports", []),
        "Labels": c.config.get("Labels") or {},
        "State": str(c.state.status),
        "Status": status_text(c),
        "HostConfig": {"NetworkMode": c.host_config.get("NetworkMode") or "none"},
        "NetworkSettings": {"Networks": network.get("Networks", {})},
        "Mounts": [m.to_api() for m in c.mounts],
    }


def status_text(c: Container) -> str:
    """Docker's human status: "Up 5 seconds", "Exited (0) 2 minutes ago", "Created"."""
    s = c.state
    if s.status in (Status.RUNNING, Status.PAUSED) and s.started_at != _NOT_SET:
        text = "Up " + human_duration(time.time() - parse_rfc3339(s.started_at))
        return text + " (Paused)" if s.status == Status.PAUSED else text
    if s.status == Status.RESTARTING:
        return f"Restarting ({s.exit_code}) " + _ago(s.finished_at)
    if s.status == Status.EXITED and s.finished_at != _NOT_SET:
        return f"Exited ({s.exit_code}) " + _ago(s.finished_at)
    if s.status == Status.DEAD:
        return "Dead"
    return "Created"


def _ago(stamp: str) -> str:
    return human_duration(time.time() - parse_rfc3339(stamp)) + " ago"


def inspect(
    c: Container,
    *,
    log_path: str,
    container_dir: str,
    upper_dir: str,
    work_dir: str,
    driver: str,
    exec_ids: list[str],
    network_settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "Id": c.id,
        "Created": c.created,
        "Path": c.path,
        "Args": list(c.args),
        "State": c.state.to_api(),
        "Image": c.image_id,
        "ResolvConfPath": f"{container_dir}/resolv.conf",
        "HostnamePath": f"{container_dir}/hostname",
        "HostsPath": f"{container_dir}/hosts",
        "LogPath": log_path,
        "Name": f"/{c.name}",
        "RestartCount": c.state.restart_count,
        "Driver": driver,
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": exec_ids or None,
        "HostConfig": _host_config(c),
        "GraphDriver": {
            "Name": driver,
            "Data": {
                "UpperDir": upper_dir,
                "WorkDir": work_dir,
                "MergedDir": f"{container_dir}/rootfs",
            },
        },
        "Mounts": [m.to_api() for m in c.mounts],
        "Config": {"Hostname": c.config.get("Hostname") or c.id[:12], "Domainname": "", **c.config},
        "NetworkSettings": network_settings
        or {
            "Bridge": "",
            "SandboxID": "",
            "Ports": {},
            "SandboxKey": "",
            "IPAddress": "",
            "IPPrefixLen": 0,
            "Gateway": "",
            "MacAddress": "",
            "Networks": {},
        },
    }


def _host_config(c: Container) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "Binds": None,
        "NetworkMode": "none",
        "PortBindings": {},
        "AutoRemove": False,
        "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
        "LogConfig": {"Type": "json-file", "Config": {}},
        "Privileged": False,
        "ReadonlyRootfs": False,
        "CapAdd": None,
        "CapDrop": None,
        "Memory": 0,
        "NanoCpus": 0,
        "PidsLimit": None,
        "Runtime": "runc",
        "Init": None,
        "Tmpfs": None,
        "SecurityOpt": None,
    }
    return {**defaults, **c.host_config}
