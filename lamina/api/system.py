"""`/_ping`, `/version`, `/info`, `/system/df`."""

from __future__ import annotations

import os
import platform
import socket
import sys
import time
from typing import Any

from lamina.api.http import Request, Response
from lamina.api.router import Router
from lamina.containers import views as container_views
from lamina.containers.logs import config as logconfig
from lamina.containers.model import Container
from lamina.engine import API_VERSION, MIN_API_VERSION, VERSION, Engine
from lamina.images import views
from lamina.oci.image import host_platform
from lamina.store.usage import tree_size
from lamina.timestamps import rfc3339
from lamina.volumes import views as volume_views


def register(router: Router, engine: Engine) -> None:
    @router.route("GET", "/_ping")
    def ping(req: Request) -> Response:
        return Response(
            200,
            b"OK",
            "text/plain; charset=utf-8",
            {
                "Cache-Control": "no-cache, no-store, must-revalidate",
                "Pragma": "no-cache",
                "Builder-Version": "1",
            },
        )

    @router.route("GET", "/version")
    def version(req: Request) -> Any:
        details = {
            "ApiVersion": API_VERSION,
            "MinAPIVersion": MIN_API_VERSION,
            "Arch": host_platform()["architecture"],
            "Os": "linux",
            "GitCommit": "",
            "GoVersion": f"python{platform.python_version()}",
            "KernelVersion": platform.release(),
            "BuildTime": "",
            "Experimental": "false",
        }
        return {
            "Platform": {"Name": "lamina"},
            "Components": [{"Name": "Engine", "Version": VERSION, "Details": details}],
            "Version": VERSION,
            **{k: v for k, v in details.items() if k != "Experimental"},
        }

    @router.route("GET", "/info")
    def info(req: Request) -> Any:
        return _info(engine)

    @router.route("GET", "/system/df")
    def df(req: Request) -> Any:
        images = engine.images
        return {
            "LayersSize": images.disk_usage().total,
            "Images": [views.summary(images, image, with_shared=True) for image in images.all()],
            "Containers": [_container_usage(engine, c) for c in engine.containers.all()],
            "Volumes": [volume_views.with_usage(engine.volumes, v) for v in engine.volumes.list()],
            "BuildCache": [],
        }


def _container_usage(engine: Engine, c: Container) -> dict[str, Any]:
    """A container summary with its writable layer's size, as `system df` wants it."""
    image = engine.images.records.get(c.image_id)
    upper = engine.containers.runner.upper(c.id)
    return {
        **container_views.summary(c),
        "SizeRw": tree_size(upper),
        "SizeRootFs": image.size if image else 0,
    }


def _info(engine: Engine) -> dict[str, Any]:
    images = engine.images.records.all()
    containers = engine.containers.all()
    running = sum(1 for c in containers if c.state.running)
    return {
        "ID": _instance_id(engine),
        "Containers": len(containers),
        "ContainersRunning": running,
        "ContainersPaused": 0,
        "ContainersStopped": len(containers) - running,
        "Images": len(images),
        "Driver": engine.driver.name,
        "DriverStatus": [["Root Dir", str(engine.paths.root / "layers")]],
        "Plugins": {
            "Volume": ["local"],
            "Network": ["bridge", "host", "none"],
            "Authorization": None,
            "Log": ["json-file", "local"],  # and none, which Docker does not list
        },
        "MemoryLimit": True,
        "SwapLimit": False,
        "CpuCfsPeriod": True,
        "CpuCfsQuota": True,
        "CPUShares": True,
        "CPUSet": True,
        "PidsLimit": True,
        "IPv4Forwarding": True,
        "BridgeNfIptables": True,
        "BridgeNfIp6tables": True,
        "Debug": False,
        "NFd": len(os.listdir("/proc/self/fd")),
        "NGoroutines": 0,
        "SystemTime": rfc3339(time.time()),
        "LoggingDriver": logconfig.DEFAULT_DRIVER,
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": _cgroup_version(),
        "NEventsListener": 0,
        "KernelVersion": platform.release(),
        "OperatingSystem": _os_name(),
        "OSVersion": "",
        "OSType": "linux",
        "Architecture": platform.machine(),
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": {
            "AllowNondistributableArtifactsCIDRs": None,
            "AllowNondistributableArtifactsHostnames": None,
            "InsecureRegistryCIDRs": ["127.0.0.0/8"],
            "IndexConfigs": {},
            "Mirrors": None,
        },
        "NCPU": os.cpu_count() or 1,
        "MemTotal": _mem_total(),
        "GenericResources": None,
        "DockerRootDir": str(engine.paths.root),
        "HttpProxy": "",
        "HttpsProxy": "",
        "NoProxy": "",
        "Name": socket.gethostname(),
        "Labels": [],
        "ExperimentalBuild": False,
        "ServerVersion": VERSION,
        "Runtimes": {"runc": {"path": "runc"}},
        "DefaultRuntime": "runc",
        "Swarm": {
            "NodeID": "",
            "NodeAddr": "",
            "LocalNodeState": "inactive",
            "ControlAvailable": False,
            "Error": "",
            "RemoteManagers": None,
        },
        "LiveRestoreEnabled": True,
        "Isolation": "",
        "InitBinary": "",
        "ContainerdCommit": {"ID": ""},
        "RuncCommit": {"ID": ""},
        "InitCommit": {"ID": ""},
        "SecurityOptions": _security_options(),
        "Warnings": None,
        "Product": f"lamina (python {sys.version.split()[0]})",
    }


def _instance_id(engine: Engine) -> str:
    path = engine.paths.root / "engine-id"
    if not path.exists():
        import uuid

        path.write_text(str(uuid.uuid4()))
    return path.read_text().strip()


def _security_options() -> list[str]:
    # What a container gets unless it asks otherwise, in Docker's words: the built-in
    # seccomp profile (Docker's default, lamina/runtime/seccomp) and, on cgroup v2,
    # a private cgroup namespace (runtime/spec.py). No AppArmor, SELinux or userns.
    options = ["name=seccomp,profile=builtin"]
    if _cgroup_version() == "2":
        options.append("name=cgroupns")
    return options


def _cgroup_version() -> str:
    return "2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "1"


def _os_name() -> str:
    try:
        with open("/etc/os-release", encoding="utf-8") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"


def _mem_total() -> int:
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            return int(f.readline().split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return 0
