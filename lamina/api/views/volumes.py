"""Volumes as the Docker Engine API shows them (the `Volume` definition)."""

from __future__ import annotations

from typing import Any

from lamina.timestamps import rfc3339
from lamina.volumes.service import Volume, VolumeService


def volume(vol: Volume) -> dict[str, Any]:
    """Fields in Docker's order. Labels and Options are `{}` when empty: the spec marks
    them required and not nullable (dockerd itself sends null)."""
    return {
        # Docker shows the creation time to the second (its RFC3339, not RFC3339Nano).
        "CreatedAt": rfc3339(int(vol.created)),
        "Driver": vol.driver,
        "Labels": dict(vol.labels),
        "Mountpoint": str(vol.mountpoint),
        "Name": vol.name,
        "Options": dict(vol.options),
        "Scope": "local",
    }


def with_usage(volumes: VolumeService, vol: Volume) -> dict[str, Any]:
    """The volume as `GET /system/df` lists it: with its size and how many containers
    use it."""
    return {
        **volume(vol),
        "UsageData": {"Size": volumes.size(vol.name), "RefCount": len(volumes.users(vol.name))},
    }
