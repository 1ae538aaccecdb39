"""How lamina handles every field of a `POST /containers/create` body: the one table.

Each field of the v1.45 spec's ContainerConfig, HostConfig (with its Resources) and
EndpointSettings is here, with one of four answers:

- APPLIED: lamina does what Docker does with it (`note` says where);
- REFUSED: a value other than the field's "unset" ones is a 400 naming the field
  (`note` is the reason, part of the message);
- IGNORED: dockerd on Linux ignores it too (`note` says why): output-only fields,
  Windows-only ones, client-side ones;
- LOGGING: LogConfig, whose drivers the log code applies or refuses.

`refuse_unhonoured(spec)` runs first in create, before anything exists, so a refused
create changes nothing. Fields outside the API spec are ignored, as dockerd's JSON decoder
ignores unknown fields. docs/container-options.md says the same for users, and
tests/unit/test_container_options.py fails when the spec, this table and that page
disagree.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lamina.containers.spec import ContainerSpec
from lamina.errors import InvalidArgument


class How(enum.StrEnum):
    APPLIED = "applied"
    REFUSED = "refused"
    IGNORED = "ignored"
    LOGGING = "logging"


def _unset(value: Any) -> bool:
    return value in (None, False, 0, "", [], {})


@dataclass(frozen=True)
class Field:
    how: How
    note: str
    unset: Callable[[Any], bool] = _unset  # REFUSED: the values that ask for nothing


def applied(note: str) -> Field:
    return Field(How.APPLIED, note)


def refused(note: str, unset: Callable[[Any], bool] = _unset) -> Field:
    return Field(How.REFUSED, note, unset)


def ignored(note: str) -> Field:
    return Field(How.IGNORED, note)


_OUTPUT_ONLY = "output of inspect; dockerd ignores it in a create body"
_WINDOWS = "Windows only; dockerd on Linux ignores it"
_CLIENT_ATTACHES = "recorded and shown; the client attaches through /attach, dockerd never reads it"

CONTAINER_CONFIG: Mapping[str, Field] = {
    "Hostname": applied("UTS hostname, /etc/hostname, /etc/hosts"),
    "Domainname": applied("UTS domain name (the kernel.domainname sysctl, as Docker)"),
    "User": applied("uid/gid resolved in the image's /etc/passwd and /etc/group"),
    "AttachStdin": ignored(_CLIENT_ATTACHES),
    "AttachStdout": ignored(_CLIENT_ATTACHES),
    "AttachStderr": ignored(_CLIENT_ATTACHES),
    "ExposedPorts": applied("-P publishes them; legacy link variables"),
    "Tty": applied("the monitor's pseudo-terminal"),
    "OpenStdin": applied("the monitor keeps stdin open"),
    "StdinOnce": applied("stdin closes when the first attach ends"),
    "Env": applied("merged over the image's"),
    "Cmd": applied("merged with the image's"),
    "Healthcheck": refused(
        "health checks are not run by lamina (issue #12)",
        unset=lambda v: _unset(v) or (v.get("Test") or ["NONE"]) == ["NONE"],
    ),
    "ArgsEscaped": ignored(_WINDOWS),
    "Image": applied("the image the container runs"),
    "Volumes": applied("anonymous volumes"),
    "WorkingDir": applied("process cwd"),
    "Entrypoint": applied("merged with the image's"),
    "NetworkDisabled": refused("use --network none for a container without a network"),
    "MacAddress": applied("moved to the primary network's endpoint, as dockerd for API >= 1.44"),
    "OnBuild": ignored("ONBUILD triggers run in builds FROM the image, never in a container"),
    "Labels": applied("merged over the image's"),
    "StopSignal": applied("stop"),
    "StopTimeout": applied("seconds stop waits before SIGKILL: 0 kills at once, unset is 10"),
    "Shell": ignored("the shell of a Dockerfile's RUN/CMD/ENTRYPOINT; a container never reads it"),
}

HOST_CONFIG: Mapping[str, Field] = {
    # Resources
    "CpuShares": applied("cgroup cpu shares"),
    "Memory": applied("cgroup memory limit"),
    "CgroupParent": applied("the cgroup the container's cgroup is made under"),
    "BlkioWeight": refused("lamina sets no block I/O weights (--blkio-weight)"),
    "BlkioWeightDevice": refused("lamina sets no block I/O weights (--blkio-weight-device)"),
    "BlkioDeviceReadBps": refused("lamina sets no block I/O limits (--device-read-bps)"),
    "BlkioDeviceWriteBps": refused("lamina sets no block I/O limits (--device-write-bps)"),
    "BlkioDeviceReadIOps": refused("lamina sets no block I/O limits (--device-read-iops)"),
    "BlkioDeviceWriteIOps": refused("lamina sets no block I/O limits (--device-write-iops)"),
    "CpuPeriod": applied("cgroup CFS period"),
    "CpuQuota": applied("cgroup CFS quota"),
    "CpuRealtimePeriod": refused("lamina sets no real-time CPU budgets (--cpu-rt-period)"),
    "CpuRealtimeRuntime": refused("lamina sets no real-time CPU budgets (--cpu-rt-runtime)"),
    "CpusetCpus": applied("cgroup cpuset.cpus"),
    "CpusetMems": applied("cgroup cpuset.mems"),
    "Devices": applied("device nodes and devices cgroup rules"),
    "DeviceCgroupRules": applied("devices cgroup rules"),
    "DeviceRequests": refused(
        "lamina has no device drivers (--gpus): could not select device driver "
        '"" with capabilities: [[gpu]]'
    ),
    "KernelMemoryTCP": refused("lamina sets no kernel TCP memory limit (--kernel-memory-tcp)"),
    "MemoryReservation": applied("cgroup memory soft limit"),
    "MemorySwap": applied("cgroup memory+swap limit"),
    "MemorySwappiness": refused(
        "lamina does not tune swappiness (--memory-swappiness)",
        unset=lambda v: v is None or v == -1,
    ),
    "NanoCpus": applied("CFS quota over a 100 ms period"),
    "OomKillDisable": refused("lamina never disables the OOM killer (--oom-kill-disable)"),
    "Init": applied("tini as pid 1"),
    "PidsLimit": applied("cgroup pids limit (0 or -1: none; above the kernel's 4194304: 400)"),
    "Ulimits": applied("process rlimits"),
    "CpuCount": refused("Windows only (--cpu-count)"),
    "CpuPercent": refused("Windows only (--cpu-percent)"),
    "IOMaximumIOps": refused("Windows only: QoS maximum IOPs is not supported on linux"),
    "IOMaximumBandwidth": refused("Windows only: QoS maximum bandwidth is not supported on linux"),
    # HostConfig proper
    "Binds": applied("bind mounts and named volumes"),
    "ContainerIDFile": ignored("the client writes this file; dockerd never reads the field"),
    "LogConfig": Field(How.LOGGING, "the log driver: json-file, local, none; others refused"),
    "NetworkMode": applied("bridge, user-defined, host, none, container:<name>"),
    "PortBindings": applied(
        "published ports (a port listed with no bindings: only with PublishAllPorts, as moby)"
    ),
    "RestartPolicy": applied("restart policies"),
    "AutoRemove": applied("--rm"),
    "VolumeDriver": refused(
        "only the local volume driver exists", unset=lambda v: v in (None, "", "local")
    ),
    "VolumesFrom": applied("the other container's mounts, :ro or :rw"),
    "Mounts": applied("bind, volume and tmpfs mounts"),
    "ConsoleSize": applied("the terminal's first size"),
    "Annotations": applied("OCI spec annotations; an empty key is a 400, as dockerd"),
    "CapAdd": applied("capabilities; unknown ones, or ones lamina cannot grant, a 400"),
    "CapDrop": applied("capabilities; unknown ones a 400"),
    "CgroupnsMode": applied("private or host cgroup namespace"),
    "Dns": applied("resolv.conf nameservers"),
    "DnsOptions": applied("resolv.conf options"),
    "DnsSearch": applied("resolv.conf search"),
    "ExtraHosts": applied("/etc/hosts; host-gateway is the default bridge's gateway"),
    "GroupAdd": applied("supplementary groups"),
    "IpcMode": applied("private, shareable, none, host; container:<name> refused"),
    "Cgroup": refused("lamina cannot join another container's cgroup (--cgroup)"),
    "Links": applied(
        "/etc/hosts and environment on the default bridge; DNS aliases on user networks"
    ),
    "OomScoreAdj": applied("process oomScoreAdj"),
    "PidMode": applied("private, host or container:<name> PID namespace"),
    "Privileged": applied("all capabilities and devices, no confinement"),
    "PublishAllPorts": applied("-P"),
    "ReadonlyRootfs": applied("read-only root"),
    "SecurityOpt": applied(
        "seccomp, no-new-privileges, systempaths=unconfined; label=disable, apparmor=unconfined;"
        " other labels and profiles only where SELinux/AppArmor is off (dockerd ignores them"
        " there); others refused"
    ),
    "StorageOpt": refused("lamina's layer drivers take no per-container options (--storage-opt)"),
    "Tmpfs": applied("tmpfs mounts"),
    "UTSMode": refused(
        "lamina gives every container its own UTS namespace (--uts host)",
        unset=lambda v: v in (None, ""),
    ),
    "UsernsMode": applied("no user namespace: '' and host; others refused"),
    "ShmSize": applied("/dev/shm size"),
    "Sysctls": applied("namespaced sysctls"),
    "Runtime": applied("the daemon's runtime; others refused"),
    "Isolation": applied("only 'default' exists on Linux; others refused"),
    "MaskedPaths": applied("replaces the default masked paths"),
    "ReadonlyPaths": applied("replaces the default read-only paths"),
}

ENDPOINT_SETTINGS: Mapping[str, Field] = {
    "IPAMConfig": applied("IPv4Address; IPv6Address and LinkLocalIPs refused"),
    "Links": applied("DNS aliases of linked containers on a user-defined network"),
    "MacAddress": applied("the MAC of the container's interface"),
    "Aliases": applied("DNS aliases on user-defined networks"),
    "NetworkID": ignored(_OUTPUT_ONLY),
    "EndpointID": ignored(_OUTPUT_ONLY),
    "Gateway": ignored(_OUTPUT_ONLY),
    "IPAddress": ignored(_OUTPUT_ONLY),
    "IPPrefixLen": ignored(_OUTPUT_ONLY),
    "IPv6Gateway": ignored(_OUTPUT_ONLY),
    "GlobalIPv6Address": ignored(_OUTPUT_ONLY),
    "GlobalIPv6PrefixLen": ignored(_OUTPUT_ONLY),
    "DriverOpts": refused("the bridge driver takes no endpoint options"),
    "DNSNames": ignored(_OUTPUT_ONLY),
}


def refuse_unhonoured(spec: ContainerSpec) -> None:
    """Raise InvalidArgument naming the first REFUSED field `spec` sets (a spec decoded
    from a body whose types the API edge checked: lamina/api/shapes.py)."""
    _refuse("", spec.config, CONTAINER_CONFIG)
    _refuse("HostConfig.", spec.host_config, HOST_CONFIG)
    for network, endpoint in spec.endpoints.items():
        _refuse(f"NetworkingConfig.EndpointsConfig.{network}.", endpoint, ENDPOINT_SETTINGS)


def _refuse(prefix: str, fields: Mapping[str, Any], table: Mapping[str, Field]) -> None:
    for name, value in fields.items():
        rule = table.get(name)
        if rule is not None and rule.how == How.REFUSED and not rule.unset(value):
            raise InvalidArgument(f"{prefix}{name} is not supported: {rule.note}")
