"""`--device` and `--device-cgroup-rule`: host device nodes for a container, as Docker adds them.

`from_path` follows moby's `DevicesFromPath`: a device node (a symlink to one is
followed) becomes one OCI `linux.devices` entry at the path asked for inside the
container, plus a devices-cgroup rule allowing it with the permissions asked for; a
directory contributes every device node under it; anything else is refused with
Docker's message. `cgroup_rule` parses "c 1:3 rwm" (moby's regex and messages).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lamina.errors import InvalidArgument

_RULE = re.compile(r"^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$")
_MODE = re.compile(r"^[rwm]{1,3}$")
_TYPES = ((stat.S_ISCHR, "c"), (stat.S_ISBLK, "b"), (stat.S_ISFIFO, "p"))


@dataclass(frozen=True)
class DeviceMapping:
    """One HostConfig.Devices entry."""

    on_host: str
    in_container: str
    permissions: str = "rwm"

    @classmethod
    def from_api(cls, entry: Mapping[str, Any]) -> DeviceMapping:
        on_host = str(entry.get("PathOnHost") or "")
        inside = str(entry.get("PathInContainer") or on_host)
        mode = str(entry.get("CgroupPermissions") or "rwm")
        if not on_host.startswith("/") or not inside.startswith("/"):
            raise InvalidArgument(f"invalid device: {on_host}:{inside}: paths must be absolute")
        if not _MODE.match(mode) or len(set(mode)) != len(mode):
            raise InvalidArgument(f"invalid device mode: {mode}")
        return cls(on_host, inside, mode)


def from_path(mapping: DeviceMapping) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(OCI devices, devices-cgroup rules) for one mapping; InvalidArgument if none."""
    host = os.path.realpath(mapping.on_host)
    node = _node(host, mapping.in_container)
    if node is not None:
        return [node], [_allow(node, mapping.permissions)]
    nodes = []
    if os.path.isdir(host):
        for folder, _dirs, files in os.walk(host):
            for name in sorted(files):
                inside = mapping.in_container + os.path.join(folder, name)[len(host) :]
                child = _node(os.path.join(folder, name), inside)
                if child is not None:
                    nodes.append(child)
    if not nodes:
        reason = "not a device node" if os.path.exists(host) else "no such file or directory"
        raise InvalidArgument(
            f'error gathering device information while adding custom device "{mapping.on_host}": '
            f"{reason}"
        )
    return nodes, [_allow(n, mapping.permissions) for n in nodes]


def _node(host_path: str, inside: str) -> dict[str, Any] | None:
    try:
        st = os.lstat(host_path)
    except OSError:
        return None
    kind = next((t for test, t in _TYPES if test(st.st_mode)), None)
    if kind is None:
        return None
    return {
        "path": inside,
        "type": kind,
        "major": os.major(st.st_rdev),
        "minor": os.minor(st.st_rdev),
        "fileMode": stat.S_IMODE(st.st_mode),
        "uid": st.st_uid,
        "gid": st.st_gid,
    }


def _allow(node: dict[str, Any], access: str) -> dict[str, Any]:
    return {
        "allow": True,
        "type": node["type"],
        "major": node["major"],
        "minor": node["minor"],
        "access": access,
    }


def cgroup_rule(rule: str) -> dict[str, Any]:
    """A `--device-cgroup-rule` ("c 10:229 rwm", "a *:* m") as an OCI devices-cgroup rule."""
    match = _RULE.match(rule)
    if not match:
        raise InvalidArgument(f"invalid device cgroup rule format: '{rule}'")
    kind, major, minor, access = match.groups()
    return {
        "allow": True,
        "type": kind,
        "major": -1 if major == "*" else int(major),
        "minor": -1 if minor == "*" else int(minor),
        "access": access,
    }
