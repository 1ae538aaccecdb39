"""Legacy `--link` on the default bridge: /etc/hosts lines and environment variables.

For each link `name:alias`, as dockerd 26 does (moby daemon/links, addLegacyLinks):
the parent's /etc/hosts gets "<child ip>\t<alias> <child hostname> [<child name>]",
and its environment `<ALIAS>_NAME=/<parent>/<alias>`, `<ALIAS>_PORT…` for each port the
child exposes (tcp first, ranges of consecutive ports summarised) and
`<ALIAS>_ENV_<KEY>` for each of the child's variables but HOME and PATH. The child
must be running and on the default bridge when the parent starts. On user-defined
networks links are DNS aliases instead (lamina.networks.names).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from lamina.containers import hostopts
from lamina.containers.model import Container
from lamina.errors import InvalidArgument
from lamina.networks.model import Member


@dataclass(frozen=True)
class Port:
    number: int
    proto: str

    @classmethod
    def parse(cls, key: str) -> Port:
        number, _, proto = key.partition("/")
        return cls(int(number), proto or "tcp")


def links_of(
    c: Container, find: Callable[[str], Container], bridge_member: Callable[[str], Member | None]
) -> tuple[list[tuple[str, str]], list[str]]:
    """(hosts lines, environment) for `c`'s links; `bridge_member(id)` is a container's
    attached default-bridge member or None."""
    hosts: list[tuple[str, str]] = []
    env: list[str] = []
    for name, alias in hostopts.links(c.host_config):
        child = find(name)
        if not child.state.running:
            raise InvalidArgument(
                f"Cannot link to a non running container: /{child.name} AS /{c.name}/{alias}"
            )
        member = bridge_member(child.id)
        if member is None or member.address is None:
            raise InvalidArgument(
                f"Cannot link to /{child.name}, as it does not belong to the default network"
            )
        ip = str(member.address)
        hostname = str(child.config.get("Hostname") or child.id[:12])
        names = [alias, hostname] + ([child.name] if alias != child.name else [])
        hosts.append((" ".join(names), ip))
        env += link_env(
            f"/{c.name}/{alias}",
            ip,
            child.config.get("Env") or [],
            child.config.get("ExposedPorts") or {},
        )
    return hosts, env


def link_env(name: str, ip: str, child_env: Iterable[str], exposed: Iterable[str]) -> list[str]:
    """moby's `Link.ToEnv` for the link `name` ("/parent/alias") to a child at `ip`."""
    alias = name.rsplit("/", 1)[-1].upper().replace("-", "_")
    ports = sorted((Port.parse(k) for k in exposed), key=_tcp_first)
    env: list[str] = []
    start = end = ports[0] if ports else None
    for i, p in enumerate(ports):
        if i == 0:
            env.append(f"{alias}_PORT={p.proto}://{ip}:{p.number}")
        prefix = f"{alias}_PORT_{p.number}_{p.proto.upper()}"
        env += [
            f"{prefix}={p.proto}://{ip}:{p.number}",
            f"{prefix}_ADDR={ip}",
            f"{prefix}_PORT={p.number}",
            f"{prefix}_PROTO={p.proto}",
        ]
        assert start is not None and end is not None
        if p.number == end.number + 1 and p.proto == end.proto:
            end = p
            if i < len(ports) - 1:
                continue
        if end != start:
            env += _range(alias, ip, start, end)
        start = end = p
    env.append(f"{alias}_NAME={name}")
    for entry in child_env:
        key, sep, value = entry.partition("=")
        if sep and key not in ("HOME", "PATH"):
            env.append(f"{alias}_ENV_{key}={value}")
    return env


def _range(alias: str, ip: str, start: Port, end: Port) -> list[str]:
    prefix = f"{alias}_PORT_{start.number}_{start.proto.upper()}"
    return [
        f"{prefix}_START={start.proto}://{ip}:{start.number}",
        f"{prefix}_PORT_START={start.number}",
        f"{prefix}_END={end.proto}://{ip}:{end.number}",
        f"{prefix}_PORT_END={end.number}",
    ]


def _tcp_first(p: Port) -> tuple[bool, str, int]:
    return (p.proto != "tcp", p.proto, p.number)
