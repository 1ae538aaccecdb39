"""Typed reads of the HostConfig options lamina applies, with Docker's checks and messages.

`check` runs at create, before anything exists, so a bad value is a 400 that changes
nothing; the runner reads the same values through the same functions at start. What
needs other containers (links, --volumes-from, container:<name> modes) is parsed
here and resolved by the service, which knows them.

The *types* of the fields are the API edge's, checked against the v1.45 API spec before a body
reaches the engine (lamina/api/shapes.py); this module checks their *values*.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from lamina.containers import devices
from lamina.containers.devices import DeviceMapping
from lamina.errors import InvalidArgument
from lamina.runtime import resources, security, securityopts
from lamina.runtime.resources import Resources
from lamina.runtime.spec import HostFacts, Rlimit

HOST_GATEWAY = "host-gateway"
RLIM_INFINITY = 2**64 - 1
MAX_HOSTNAME = 64
# go-units' names, which the docker CLI accepts for --ulimit.
ULIMITS = frozenset(
    [
        "as",
        "core",
        "cpu",
        "data",
        "fsize",
        "locks",
        "memlock",
        "msgqueue",
        "nice",
        "nofile",
        "nproc",
        "rss",
        "rtprio",
        "rttime",
        "sigpending",
        "stack",
    ]
)
# Sysctls in the IPC namespace (runc's validator, Docker's --sysctl documentation).
_IPC_SYSCTLS = frozenset(
    [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ]
)
_MODES = {
    "PidMode": ("", "host"),
    "IpcMode": ("", "private", "shareable", "none", "host"),
    "CgroupnsMode": ("", "private", "host"),
}
_MODE_NAMES = {"PidMode": "PID", "IpcMode": "IPC", "CgroupnsMode": "cgroup namespace"}


def check(config: Mapping[str, Any], hc: Mapping[str, Any], *, runtime: str) -> None:
    """Every check that needs neither the image's files nor other containers."""
    hostname = str(config.get("Hostname") or "")
    if len(hostname) > MAX_HOSTNAME:
        raise InvalidArgument(f'hostname "{hostname}" is too long (maximum {MAX_HOSTNAME} bytes)')
    facts = HostFacts.probe()
    resources.check(
        Resources.from_host_config(hc),
        cpus=facts.cpus,
        cpu_list=facts.cpu_list,
        mem_list=facts.mem_list,
    )
    _check_capabilities(hc)
    ulimits(hc)
    sysctls(hc)
    for mapping in device_mappings(hc):
        devices.from_path(mapping)
    device_rules(hc)
    for key in _MODES:
        namespace_mode(hc, key)
    _check_scalars(hc, runtime=runtime)
    extra_hosts(hc)
    _check_container_network(hc)
    links(hc)
    volumes_from(hc)
    securityopts.parse(hc)


def _check_capabilities(hc: Mapping[str, Any]) -> None:
    """Names the kernel defines, with dockerd's message, and additions this daemon can
    grant: either mistake would otherwise make a container that can never start."""
    for key in ("CapAdd", "CapDrop"):
        try:
            security.normalize_capabilities(hc.get(key) or ())
        except InvalidArgument as err:
            raise InvalidArgument(f"invalid {key}: {err}") from None
    security.capabilities(
        privileged=bool(hc.get("Privileged")), add=hc.get("CapAdd") or (), drop=()
    )


def _check_scalars(hc: Mapping[str, Any], *, runtime: str) -> None:
    score = int(hc.get("OomScoreAdj") or 0)
    if not -1000 <= score <= 1000:
        raise InvalidArgument(f"Invalid value {score}, range for oom score adj is [-1000, 1000]")
    if hc.get("UsernsMode") not in (None, "", "host"):
        raise InvalidArgument(
            f"HostConfig.UsernsMode is not supported: lamina runs no user namespaces "
            f"({hc['UsernsMode']})"
        )
    if hc.get("Isolation") not in (None, "", "default"):
        raise InvalidArgument(
            f"invalid isolation ({hc['Isolation']}): linux only supports 'default'"
        )
    if hc.get("Runtime") not in (None, "", runtime):
        raise InvalidArgument(f"unknown or invalid runtime name: {hc['Runtime']}")
    if int(hc.get("ShmSize") or 0) < 0:
        raise InvalidArgument("SHM size can not be less than 0")
    if "" in (hc.get("Annotations") or {}):
        raise InvalidArgument(
            "invalid Annotations: the empty string is not permitted as an annotation key"
        )
    for key in ("MaskedPaths", "ReadonlyPaths"):
        if any(not str(p).startswith("/") for p in hc.get(key) or []):
            raise InvalidArgument(f"{key}: paths must be absolute")


def ulimits(hc: Mapping[str, Any]) -> tuple[Rlimit, ...]:
    out = []
    for entry in hc.get("Ulimits") or []:
        name = str(entry.get("Name") or "")
        if name not in ULIMITS:
            raise InvalidArgument(f"invalid ulimit type: {name or repr(entry)}")
        soft, hard = _rlim(entry.get("Soft")), _rlim(entry.get("Hard"))
        if soft < 0 or hard < 0:
            raise InvalidArgument(f"invalid ulimit {name}: limits cannot be negative but -1")
        if soft > hard:
            raise InvalidArgument(
                f"ulimit soft limit must be less than hard limit: {soft} > {hard}"
            )
        out.append(Rlimit(name, soft, hard))
    return tuple(out)


def _rlim(value: int | None) -> int:
    """-1 ("unlimited" to the docker CLI) is RLIM_INFINITY, as dockerd's uint64 cast."""
    number = value or 0
    return RLIM_INFINITY if number == -1 else number


def sysctls(hc: Mapping[str, Any]) -> dict[str, str]:
    """--sysctl: only sysctls of a namespace the container has its own of (runc's rule,
    checked here so the mistake is a 400 at create, not a failed start)."""
    values = dict(hc.get("Sysctls") or {})
    host_net = hc.get("NetworkMode") == "host"
    host_ipc = hc.get("IpcMode") == "host"
    for key in values:
        if key in _IPC_SYSCTLS or key.startswith("fs.mqueue."):
            if host_ipc:
                raise InvalidArgument(f'sysctl "{key}" not allowed in host IPC namespace')
        elif key.startswith("net."):
            if host_net:
                raise InvalidArgument(f'sysctl "{key}" not allowed in host network namespace')
        elif key != "kernel.domainname":
            raise InvalidArgument(f'sysctl "{key}" is not in a separate kernel namespace')
    return {str(k): str(v) for k, v in values.items()}


def device_mappings(hc: Mapping[str, Any]) -> tuple[DeviceMapping, ...]:
    return tuple(DeviceMapping.from_api(d) for d in hc.get("Devices") or [])


def device_rules(hc: Mapping[str, Any]) -> tuple[dict[str, Any], ...]:
    return tuple(devices.cgroup_rule(str(r)) for r in hc.get("DeviceCgroupRules") or [])


def group_add(hc: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(str(g) for g in hc.get("GroupAdd") or [])


def namespace_mode(hc: Mapping[str, Any], key: str) -> tuple[str, str]:
    """("", ""), ("host", ""), ("private", "") … or ("container", "<name>")."""
    mode = str(hc.get(key) or "")
    kind, sep, ref = mode.partition(":")
    if key != "CgroupnsMode" and kind == "container" and sep:
        if not ref:
            raise InvalidArgument(f"invalid {_MODE_NAMES[key]} mode: {mode}")
        if key == "IpcMode":
            raise InvalidArgument(
                "HostConfig.IpcMode container:<name> is not supported: each lamina "
                "container's /dev/shm is its own"
            )
        return "container", ref
    if mode not in _MODES[key]:
        raise InvalidArgument(f"invalid {_MODE_NAMES[key]} mode: {mode}")
    return mode, ""


def extra_hosts(hc: Mapping[str, Any]) -> list[tuple[str, str]]:
    """--add-host "name:ip" (or "name:host-gateway") as (name, ip), Docker's checks."""
    out = []
    for entry in hc.get("ExtraHosts") or []:
        name, sep, ip = str(entry).partition(":")
        if not sep or not name:
            raise InvalidArgument(f'bad format for add-host: "{entry}"')
        if ip != HOST_GATEWAY:
            try:
                ipaddress.ip_address(ip.strip("[]"))
            except ValueError:
                raise InvalidArgument(f'invalid IP address in add-host: "{ip}"') from None
        out.append((name, ip.strip("[]")))
    return out


def _check_container_network(hc: Mapping[str, Any]) -> None:
    """A container sharing another's network shares its /etc/hosts and resolv.conf too
    (moby's `validateNetContainerMode`)."""
    if not str(hc.get("NetworkMode") or "").startswith("container:"):
        return
    if hc.get("Dns"):
        raise InvalidArgument("conflicting options: dns and the network mode")
    if hc.get("ExtraHosts"):
        raise InvalidArgument("conflicting options: custom host-to-IP mapping and the network mode")


def links(hc: Mapping[str, Any]) -> list[tuple[str, str]]:
    """--link "name:alias" as (name, alias), moby's `ParseLink`."""
    out = []
    for entry in hc.get("Links") or []:
        text = str(entry)
        if not text:
            raise InvalidArgument("empty string specified for links")
        parts = text.split(":")
        if len(parts) > 2:
            raise InvalidArgument(f"bad format for links: {text}")
        name, alias = (parts[0], parts[-1])
        if name.startswith("/"):  # "/name:/parent/alias", as inspect shows links
            name, alias = name[1:], alias.rsplit("/", 1)[-1]
        out.append((name, alias))
    if out and hc.get("NetworkMode") == "host":
        raise InvalidArgument(
            "conflicting options: host type networking can't be used with links. This would "
            "result in undefined behavior"
        )
    if out and str(hc.get("NetworkMode") or "").startswith("container:"):
        raise InvalidArgument(
            "conflicting options: container type network can't be used with links. This "
            "would result in undefined behavior"
        )
    return out


def volumes_from(hc: Mapping[str, Any]) -> list[tuple[str, str]]:
    """--volumes-from "c[:ro|rw]" as (container, mode), moby's `ParseVolumesFrom`."""
    out = []
    for entry in hc.get("VolumesFrom") or []:
        text = str(entry)
        if not text:
            raise InvalidArgument("volumes-from specification cannot be an empty string")
        ref, _, mode = text.partition(":")
        if mode not in ("", "ro", "rw", "z", "Z", "ro,z", "ro,Z", "rw,z", "rw,Z"):
            raise InvalidArgument(f'invalid mode: "{mode}"')
        out.append((ref, mode or "rw"))
    return out
