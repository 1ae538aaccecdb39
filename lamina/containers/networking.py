"""The narrow interface between containers and networks.

The container service calls `attach` before a container's process starts and `detach`
after it ended; lamina.networks implements it. Until a network layer is plugged in,
`NoNetworking` gives each container a new network namespace with only loopback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from lamina.containers.model import Container


class Networking(Protocol):
    """What containers need from networks (lamina.networks implements it).

    `attach` runs before the process starts and returns the network namespace to join
    (None: the runtime makes a new, empty one; "host" mode is handled by the spec) and
    the host names and addresses for /etc/hosts; `detach` runs after the process ended.
    """

    def attach(self, c: Container) -> NetworkAttachment: ...

    def detach(self, c: Container) -> None: ...


@dataclass(frozen=True)
class NetworkAttachment:
    netns: str | None = None
    addresses: tuple[str, ...] = ()  # this container's addresses, for its /etc/hosts
    dns: tuple[str, ...] = ()  # nameservers for its resolv.conf (empty: the host's)
    hosts: tuple[tuple[str, str], ...] = ()  # more /etc/hosts lines: (names, address)
    env: tuple[str, ...] = ()  # environment before the container's own (legacy links)
    host_gateway: str = ""  # what --add-host name:host-gateway resolves to


class NoNetworking:
    """Until networks exist: each container gets a new namespace with only loopback."""

    def attach(self, c: Container) -> NetworkAttachment:
        return NetworkAttachment()

    def detach(self, c: Container) -> None:
        return None
