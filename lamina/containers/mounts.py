"""A container's mounts from `-v`, `--mount`, `--tmpfs` and the image's VOLUMEs.

`resolve_mounts` turns the API's HostConfig.Binds / Mounts / Tmpfs and Config.Volumes
into MountPoints (what `inspect` shows, kept with the container) and creates the
volumes they name — anonymous ones for `-v /path` and image VOLUMEs — as Docker does
at create time. `runtime_mounts` turns MountPoints into the runtime spec's mounts.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

from lamina.containers.model import MountPoint
from lamina.errors import InvalidArgument
from lamina.runtime.spec import MountSpec
from lamina.volumes import VolumeService

_MODES = {
    "ro",
    "rw",
    "z",
    "Z",
    "nocopy",
    "shared",
    "slave",
    "private",
    "rshared",
    "rslave",
    "rprivate",
    "consistent",
    "cached",
    "delegated",
}


def resolve_mounts(
    config: dict[str, Any],
    host_config: dict[str, Any],
    volumes: VolumeService,
    *,
    inherited: Sequence[MountPoint] = (),
) -> list[MountPoint]:
    """`inherited` (--volumes-from) come first; a bind or mount at one of their
    destinations replaces it, as Docker does."""
    points: dict[str, MountPoint] = {p.destination: p for p in inherited}
    replaceable = set(points)

    def add(point: MountPoint) -> None:
        if point.destination in points and point.destination not in replaceable:
            raise InvalidArgument(f"Duplicate mount point: {point.destination}")
        replaceable.discard(point.destination)
        points[point.destination] = point

    for bind in host_config.get("Binds") or []:
        add(_parse_bind(bind, volumes))
    for mount in host_config.get("Mounts") or []:
        add(_parse_mount(mount, volumes))
    for dest, options in (host_config.get("Tmpfs") or {}).items():
        add(MountPoint("tmpfs", _destination(dest), options=_tmpfs_options(options)))
    for dest in config.get("Volumes") or {}:
        dest = _destination(dest)
        if dest not in points:
            volume = volumes.create(None)
            points[dest] = MountPoint(
                "volume", dest, str(volume.mountpoint), volume.name, anonymous=True
            )
    return sorted(points.values(), key=lambda p: len(PurePosixPath(p.destination).parts))


def runtime_mounts(points: list[MountPoint]) -> list[MountSpec]:
    specs = []
    for p in points:
        if p.type == "tmpfs":
            specs.append(
                MountSpec(
                    p.destination, "tmpfs", "tmpfs", ("nosuid", "nodev", "noexec", *p.options)
                )
            )
        else:
            specs.append(
                MountSpec(
                    p.destination,
                    "bind",
                    p.source,
                    ("rbind", "rprivate", "ro" if not p.rw else "rw"),
                )
            )
    return specs


def _parse_bind(spec: str, volumes: VolumeService) -> MountPoint:
    parts = spec.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise InvalidArgument(f"invalid volume specification: '{spec}'")
    source, dest = parts[0], _destination(parts[1])
    modes = set(parts[2].split(",")) if len(parts) == 3 else set()
    if not modes <= _MODES or {"ro", "rw"} <= modes:
        raise InvalidArgument(f"invalid mode: {parts[2]}")
    rw = "ro" not in modes
    mode = parts[2] if len(parts) == 3 else ""
    if source.startswith("/"):
        return MountPoint("bind", dest, source, rw=rw, mode=mode)
    volume = volumes.create(source)
    return MountPoint(
        "volume",
        dest,
        str(volume.mountpoint),
        volume.name,
        rw=rw,
        mode=mode or "z",
        options=("nocopy",) if "nocopy" in modes else (),
    )


def _parse_mount(mount: dict[str, Any], volumes: VolumeService) -> MountPoint:
    kind = mount.get("Type") or "volume"
    dest = _destination(str(mount.get("Target") or mount.get("Destination") or ""))
    rw = not mount.get("ReadOnly")
    source = str(mount.get("Source") or "")
    if kind == "bind":
        if not source.startswith("/"):
            raise InvalidArgument(
                f'invalid mount config for type "bind": invalid mount '
                f"path: '{source}' mount path must be absolute"
            )
        return MountPoint("bind", dest, source, rw=rw)
    if kind == "volume":
        volume = volumes.create(
            source or None, labels=(mount.get("VolumeOptions") or {}).get("Labels") or {}
        )
        nocopy = bool((mount.get("VolumeOptions") or {}).get("NoCopy"))
        return MountPoint(
            "volume",
            dest,
            str(volume.mountpoint),
            volume.name,
            rw=rw,
            anonymous=not source,
            options=("nocopy",) if nocopy else (),
        )
    if kind == "tmpfs":
        opts = mount.get("TmpfsOptions") or {}
        options = []
        if opts.get("SizeBytes"):
            options.append(f"size={int(opts['SizeBytes'])}")
        if opts.get("Mode"):
            options.append(f"mode={int(opts['Mode']):o}")
        return MountPoint("tmpfs", dest, rw=rw, options=tuple(options))
    raise InvalidArgument(f"mount type {kind!r} is not supported: use bind, volume or tmpfs")


def _destination(dest: str) -> str:
    if not dest.startswith("/"):
        raise InvalidArgument(f"invalid mount config: mount path must be absolute: '{dest}'")
    clean = str(PurePosixPath(dest))
    if clean == "/":
        raise InvalidArgument("invalid specification: destination can't be '/'")
    return clean


def _tmpfs_options(options: str) -> tuple[str, ...]:
    return tuple(o for o in options.split(",") if o)
