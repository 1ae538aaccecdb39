"""`version`, `info`, `system df`."""

from __future__ import annotations

import argparse
import platform

from lamina import __version__
from lamina.cli.client import API_PREFIX, Client
from lamina.cli.format import ago, human_size, table

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs every command ~2.5 ms to import
    from typing import Any


def version(client: Client, args: argparse.Namespace) -> int:
    print("Client:")
    print(f" Version:           {__version__}")
    print(f" API version:       {API_PREFIX.removeprefix('/v')}")
    print(f" Python version:    {platform.python_version()}")
    print(f" OS/Arch:           linux/{platform.machine()}")
    server = client.get_json("/version")
    print()
    print(f"Server: {server.get('Platform', {}).get('Name', '')}")
    for component in server.get("Components", []):
        details = component.get("Details", {})
        print(f" {component['Name']}:")
        print(f"  Version:          {component['Version']}")
        print(
            f"  API version:      {details.get('ApiVersion')} (minimum version "
            f"{details.get('MinAPIVersion')})"
        )
        print(f"  Runtime:          {details.get('GoVersion')}")
        print(f"  OS/Arch:          {details.get('Os')}/{details.get('Arch')}")
        print(f"  Kernel:           {details.get('KernelVersion')}")
    return 0


def info(client: Client, args: argparse.Namespace) -> int:
    data = client.get_json("/info")
    lines = [
        ("Server Version", data["ServerVersion"]),
        ("Images", data["Images"]),
        ("Containers", data["Containers"]),
        (" Running", data["ContainersRunning"]),
        (" Stopped", data["ContainersStopped"]),
        ("Storage Driver", data["Driver"]),
        ("Logging Driver", data["LoggingDriver"]),
        ("Cgroup Driver", data["CgroupDriver"]),
        ("Cgroup Version", data["CgroupVersion"]),
        ("Default Runtime", data["DefaultRuntime"]),
        ("Kernel Version", data["KernelVersion"]),
        ("Operating System", data["OperatingSystem"]),
        ("Architecture", data["Architecture"]),
        ("CPUs", data["NCPU"]),
        ("Total Memory", _binary_size(data["MemTotal"])),
        ("Name", data["Name"]),
        ("ID", data["ID"]),
        ("Root Dir", data["DockerRootDir"]),
    ]
    print("Server:")
    for key, value in lines:
        print(f" {key}: {value}")
    return 0


def df(client: Client, args: argparse.Namespace) -> int:
    data = client.get_json("/system/df")
    images = data.get("Images") or []
    active = sum(1 for i in images if i.get("Containers", 0) > 0)
    total = data.get("LayersSize", 0)
    # Docker's rule: what active images use uniquely is kept; the rest is reclaimable.
    used = sum(
        i["Size"] - max(i.get("SharedSize", 0), 0) for i in images if i.get("Containers", 0) > 0
    )
    unused = total - used

    rows = [
        ["Images", str(len(images)), str(active), _size(total), _reclaim(unused, total)],
        _containers_row(data.get("Containers") or []),
        _volumes_row(data.get("Volumes") or []),
        ["Build Cache", str(len(data.get("BuildCache") or [])), "0", "0B", "0B"],
    ]
    print(table(["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"], rows))
    if args.verbose:
        _df_images(images)
    return 0


def _volumes_row(volumes: list[dict[str, Any]]) -> list[str]:
    usage = [v.get("UsageData") or {} for v in volumes]
    size = sum(max(int(u.get("Size", 0)), 0) for u in usage)
    active = sum(1 for u in usage if int(u.get("RefCount", 0)) > 0)
    idle = sum(max(int(u.get("Size", 0)), 0) for u in usage if int(u.get("RefCount", 0)) <= 0)
    return ["Local Volumes", str(len(volumes)), str(active), _size(size), _reclaim(idle, size)]


def _containers_row(containers: list[dict[str, Any]]) -> list[str]:
    active = [c for c in containers if c.get("State") == "running"]
    size = sum(int(c.get("SizeRw") or 0) for c in containers)
    idle = sum(int(c.get("SizeRw") or 0) for c in containers if c not in active)
    return [
        "Containers",
        str(len(containers)),
        str(len(active)),
        _size(size),
        _reclaim(idle, size),
    ]


def _df_images(images: list[dict[str, Any]]) -> None:
    print("\nImages space usage:\n")
    rows = []
    for image in images:
        tags = image.get("RepoTags") or ["<none>:<none>"]
        repo, _, tag = tags[0].rpartition(":")
        rows.append(
            [
                repo,
                tag,
                image["Id"].removeprefix("sha256:")[:12],
                ago(image["Created"]),
                _size(image["Size"]),
                _size(max(image.get("SharedSize", 0), 0)),
                _size(image["Size"] - max(image.get("SharedSize", 0), 0)),
                str(image.get("Containers", 0)),
            ]
        )
    print(
        table(
            [
                "REPOSITORY",
                "TAG",
                "IMAGE ID",
                "CREATED",
                "SIZE",
                "SHARED SIZE",
                "UNIQUE SIZE",
                "CONTAINERS",
            ],
            rows,
        )
    )


def _size(size: float) -> str:
    return human_size(size, 4)  # `system df` prints four significant digits


def _reclaim(unused: int, total: int) -> str:
    if not total:
        return _size(unused)
    return f"{_size(unused)} ({unused * 100 // total}%)"


def _binary_size(size: float) -> str:
    units = ("B", "KiB", "MiB", "GiB", "TiB")
    unit = 0
    while size >= 1024 and unit < len(units) - 1:
        size /= 1024
        unit += 1
    return f"{size:.4g}{units[unit]}"
