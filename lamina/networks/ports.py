"""Published ports: Docker's PortBindings/PublishAllPorts as a plan, and host sockets.

`plan` is pure (a test compares it without root). `bind` opens the host's listening
sockets in the daemon, so "port is already allocated" is known before the container
starts; the proxy process (lamina.networks.proxy) then gets the sockets.
"""

from __future__ import annotations

import contextlib
import errno
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lamina.errors import Conflict, InvalidArgument


@dataclass(frozen=True)
class Binding:
    """One container port to publish: on `host_ip` at the first free port of
    host_port..host_port_end (0: any free port)."""

    container_port: int
    proto: str  # "tcp" | "udp"
    host_ip: str = ""  # "" means every address (0.0.0.0)
    host_port: int = 0
    host_port_end: int = 0


@dataclass(frozen=True)
class Published:
    container_port: int
    proto: str
    host_ip: str
    host_port: int

    def to_json(self) -> dict[str, Any]:
        return {
            "port": self.container_port,
            "proto": self.proto,
            "ip": self.host_ip,
            "host_port": self.host_port,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Published:
        return cls(int(d["port"]), str(d["proto"]), str(d["ip"]), int(d["host_port"]))


def plan(host_config: Mapping[str, Any], config: Mapping[str, Any]) -> list[Binding]:
    """PortBindings as bindings (ranges expanded), plus, when PublishAllPorts is set,
    every exposed or listed port with no binding. As moby: a port listed with no
    bindings (`{"80/tcp": []}` or null) is published only by PublishAllPorts."""
    out: list[Binding] = []
    bound: set[tuple[int, str]] = set()
    listed = host_config.get("PortBindings") or {}
    for key, entries in listed.items():
        first, last, proto = _port_key(key)
        for entry in entries or []:
            out += _expand(first, last, proto, entry or {})
        if entries:
            bound.update((p, proto) for p in range(first, last + 1))
    if host_config.get("PublishAllPorts"):
        for key in sorted({*(config.get("ExposedPorts") or {}), *listed}):
            first, last, proto = _port_key(key)
            out += [Binding(p, proto) for p in range(first, last + 1) if (p, proto) not in bound]
    return out


def exposed(host_config: Mapping[str, Any], config: Mapping[str, Any]) -> list[tuple[int, str]]:
    """Every port the container exposes or publishes, for inspect's Ports."""
    keys = set(config.get("ExposedPorts") or {}) | set(host_config.get("PortBindings") or {})
    out: set[tuple[int, str]] = set()
    for key in keys:
        first, last, proto = _port_key(key)
        out.update((p, proto) for p in range(first, last + 1))
    return sorted(out)


def bind(b: Binding) -> tuple[socket.socket, Published]:
    """Listen (tcp) or bind (udp) on the host for `b`."""
    kind = socket.SOCK_STREAM if b.proto == "tcp" else socket.SOCK_DGRAM
    ip = b.host_ip or "0.0.0.0"
    last_error = 0
    for port in range(b.host_port, max(b.host_port, b.host_port_end) + 1):
        sock = socket.socket(socket.AF_INET, kind)
        try:
            # SO_REUSEADDR lets a restarted container take its port back from TIME_WAIT;
            # it never lets two listeners share a port.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((ip, port))
            if kind == socket.SOCK_STREAM:
                sock.listen(128)
        except OSError as err:
            sock.close()
            last_error = err.errno or 0
            if err.errno == errno.EADDRINUSE:
                continue
            raise InvalidArgument(f"cannot publish {ip}:{port}: {err.strerror}") from err
        return sock, Published(b.container_port, b.proto, ip, sock.getsockname()[1])
    assert last_error == errno.EADDRINUSE
    wanted = (
        f"{b.host_port}" if b.host_port_end <= b.host_port else f"{b.host_port}-{b.host_port_end}"
    )
    raise Conflict(f"Bind for {ip}:{wanted} failed: port is already allocated")


def bind_all(bindings: list[Binding]) -> list[tuple[socket.socket, Published]]:
    done: list[tuple[socket.socket, Published]] = []
    try:
        for b in bindings:
            done.append(bind(b))
    except BaseException:
        for sock, _ in done:
            with contextlib.suppress(OSError):
                sock.close()
        raise
    return done


def _expand(first: int, last: int, proto: str, entry: Mapping[str, Any]) -> list[Binding]:
    ip = str(entry.get("HostIp") or "")
    if ip in ("0.0.0.0", "::"):
        ip = ""
    host = str(entry.get("HostPort") or "")
    low, high = _range(host, "host") if host else (0, 0)
    count = last - first + 1
    if count == 1:
        return [Binding(first, proto, ip, low, high)]
    if host and high - low + 1 != count:
        raise InvalidArgument(
            f"invalid ranges specified for container and host ports: {host}:{first}-{last}"
        )
    return [
        Binding(first + i, proto, ip, low + i if host else 0, low + i if host else 0)
        for i in range(count)
    ]


def _port_key(key: str) -> tuple[int, int, str]:
    ports, _, proto = key.partition("/")
    proto = (proto or "tcp").lower()
    if proto not in ("tcp", "udp"):
        raise InvalidArgument(f"invalid proto: {proto}")
    first, last = _range(ports, "container")
    return first, last, proto


def _range(text: str, what: str) -> tuple[int, int]:
    low, _, high = text.partition("-")
    try:
        first, last = int(low), int(high or low)
    except ValueError as err:
        raise InvalidArgument(f"invalid {what} port: {text}") from err
    if not (0 <= first <= last <= 65535) or (what == "container" and first == 0):
        raise InvalidArgument(f"invalid {what} port: {text}")
    return first, last
