"""A container's bundle: its /etc files and the config.json the runtime starts it from.

`write_bundle` runs at each start, after the root filesystem is mounted and the network
attached: it writes hosts, hostname and resolv.conf into the container's folder (bound
over the image's), then `config.json` (0600: it holds the environment) from
`spec_input`, which reads the container's Config and HostConfig into the `SpecInput`
the spec builder takes. Execs read `spec_input` too, for the process they add.

HostConfig is read through `hostopts`, `securityopts` and `devices`, the same functions
create checked it with, so what create accepted is what a start applies.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from lamina import private
from lamina.containers import devices, etcfiles, hostopts
from lamina.containers.model import Container
from lamina.containers.mounts import runtime_mounts
from lamina.containers.networking import NetworkAttachment
from lamina.errors import InvalidArgument
from lamina.runtime import securityopts
from lamina.runtime.resources import Resources
from lamina.runtime.spec import MountSpec, SpecInput, build_spec

INIT_BINARY = Path("/usr/bin/tini-static")
DEFAULT_SHM_SIZE = 64 * 1024 * 1024


def write_bundle(
    base: Path,
    c: Container,
    rootfs: Path,
    network: NetworkAttachment | None = None,
    *,
    pid_ns: str | None = None,
    cgroup_parent: str = "/lamina",
) -> Path:
    """Write the bundle of `c` (whose folder is `base`) and return its folder. `pid_ns`:
    "host" or another container's namespace to join (None: its own); `cgroup_parent`:
    the instance's, unless the container asks for its own (--cgroup-parent)."""
    network = network or NetworkAttachment()
    inp = spec_input(c, rootfs, [c.path, *c.args], _etc_mounts(base, c, network))
    inp = replace(inp, cgroups_path=_cgroups_path(c, cgroup_parent))
    spec = build_spec(
        replace(inp, netns=network.netns, env=[*network.env, *inp.env], pid_ns=pid_ns)
    )
    path = base / "bundle" / "config.json"
    tmp = path.with_suffix(".tmp")
    private.write_file(tmp, json.dumps(spec).encode())
    os.replace(tmp, path)
    return path.parent


def _etc_mounts(base: Path, c: Container, network: NetworkAttachment) -> tuple[MountSpec, ...]:
    """hosts, hostname and resolv.conf, written into `base` and bound where the
    container's own mounts do not already put something."""
    etc = etcfiles.write_etc_files(
        base,
        hostname=hostname(c),
        domainname=str(c.config.get("Domainname") or ""),
        addresses=network.addresses,
        extra_hosts=[*_extra_hosts(c, network), *network.hosts],
        resolv=_resolv(c, network),
    )
    taken = {p.destination for p in c.mounts}
    return tuple(
        MountSpec(dest, "bind", str(src), ("rbind", "rprivate"))
        for dest, src in etc.items()
        if dest not in taken
    )


def spec_input(
    c: Container, rootfs: Path, argv: list[str], extra: tuple[MountSpec, ...] = ()
) -> SpecInput:
    """What `c` runs with; --security-opt is parsed here, once, for all that needs it."""
    hc = c.host_config
    security = securityopts.parse(hc)
    base = SpecInput(
        args=argv,
        env=list(c.config.get("Env") or []),
        cwd=c.config.get("WorkingDir") or "/",
        user=c.config.get("User") or "",
        rootfs=rootfs,
        hostname=hostname(c),
        terminal=c.tty,
        readonly_rootfs=bool(hc.get("ReadonlyRootfs")),
        mounts=(*extra, *runtime_mounts(list(c.mounts))),
        resources=Resources.from_host_config(hc),
        privileged=bool(hc.get("Privileged")),
        cap_add=tuple(hc.get("CapAdd") or ()),
        cap_drop=tuple(hc.get("CapDrop") or ()),
        no_new_privileges=security.no_new_privileges,
        seccomp=security.seccomp,
        host_network=hc.get("NetworkMode") == "host",
        cgroups_path=_cgroups_path(c, "/lamina"),
        init=str(INIT_BINARY) if hc.get("Init") else None,
        shm_size=int(hc.get("ShmSize") or DEFAULT_SHM_SIZE),
        annotations={**(hc.get("Annotations") or {}), "org.lamina.container.name": c.name},
    )
    return _with_host_options(base, c, security)


def hostname(c: Container) -> str:
    return str(c.config.get("Hostname") or c.id[:12])


def _with_host_options(
    base: SpecInput, c: Container, security: securityopts.SecurityOptions
) -> SpecInput:
    """The HostConfig options read through lamina.containers.hostopts."""
    hc = c.host_config
    unconfined = security.unconfined_paths
    ipc = hostopts.namespace_mode(hc, "IpcMode")[0]
    mounts = base.mounts
    if ipc == "host":  # the host's /dev/shm with its IPC namespace, as Docker
        mounts = (MountSpec("/dev/shm", "bind", "/dev/shm", ("rbind", "rprivate")), *mounts)
    nodes, rules = _devices(hc)
    return replace(
        base,
        mounts=mounts,
        oom_score_adj=int(hc["OomScoreAdj"]) if hc.get("OomScoreAdj") else None,
        sysctls=hostopts.sysctls(hc),
        rlimits=hostopts.ulimits(hc),
        group_add=hostopts.group_add(hc),
        devices=nodes,
        device_rules=(*rules, *hostopts.device_rules(hc)),
        ipc_ns=ipc if ipc in ("host", "none") else None,
        cgroup_ns=hostopts.namespace_mode(hc, "CgroupnsMode")[0],
        domainname=str(c.config.get("Domainname") or ""),
        masked_paths=() if unconfined else _paths(hc.get("MaskedPaths")),
        readonly_paths=() if unconfined else _paths(hc.get("ReadonlyPaths")),
    )


def _cgroups_path(c: Container, default_parent: str) -> str:
    """Under the instance's parent, or the --cgroup-parent asked for (a path, as
    Docker's cgroupfs driver takes it; ".." cannot climb above the cgroup root)."""
    parent = str(c.host_config.get("CgroupParent") or default_parent)
    return os.path.normpath(os.path.join("/", parent, c.id))


def _devices(hc: dict[str, Any]) -> tuple[tuple[dict[str, Any], ...], tuple[dict[str, Any], ...]]:
    nodes: list[dict[str, Any]] = []
    rules: list[dict[str, Any]] = []
    for mapping in hostopts.device_mappings(hc):
        found, allowed = devices.from_path(mapping)
        nodes += found
        rules += allowed
    return tuple(nodes), tuple(rules)


def _paths(value: Any) -> tuple[str, ...] | None:
    return None if value is None else tuple(str(p) for p in value)


def _extra_hosts(c: Container, network: NetworkAttachment) -> list[tuple[str, str]]:
    """--add-host entries; host-gateway is the default bridge's gateway, as Docker."""
    out = []
    for name, ip in hostopts.extra_hosts(c.host_config):
        if ip == hostopts.HOST_GATEWAY:
            if not network.host_gateway:
                raise InvalidArgument("unable to derive the IP value for host-gateway")
            ip = network.host_gateway
        out.append((name, ip))
    return out


def _resolv(c: Container, network: NetworkAttachment) -> etcfiles.Resolv:
    hc = c.host_config
    return etcfiles.Resolv(
        nameservers=tuple(hc.get("Dns") or network.dns),
        search=tuple(hc["DnsSearch"]) if hc.get("DnsSearch") else None,
        options=tuple(hc["DnsOptions"]) if hc.get("DnsOptions") else None,
        internal=bool(network.dns) and not hc.get("Dns"),
    )
