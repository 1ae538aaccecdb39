"""The narrow interface between containers and networks.

The container service checks a create's networks with `check_create` before it makes
anything and records them with `created`; it calls `attach` before a container's
process starts and `detach` after it ended. lamina.networks implements it and is handed
to the container service when it is built (lamina.engine): containers never import
networks. Without a network layer, `NoNetworking` gives each container a new network
namespace with only loopback.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from lamina.containers.model import Container

# NetworkingConfig.EndpointsConfig: endpoint settings by the network's name as given
AskedEndpoints = Mapping[str, Mapping[str, Any]]


class Networking(Protocol):
    """What containers need from networks (lamina.networks implements it).

    `check_create` refuses a create's network settings (its HostConfig, the endpoints
    its NetworkingConfig asks for, its MacAddress: lamina.containers.spec) before
    anything is made; `created` records the memberships of the container made from
    it. `attach` runs before the process starts and returns the network namespace to
    join (None: the runtime makes a new, empty one; "host" mode is handled by the
    runtime spec) and the host names and addresses for /etc/hosts; `detach` runs after
    the process ended. `joined` names the networks a container is a member of, by name
    and by ID (the list filter `network`).
    """

    def check_create(
        self, host_config: Mapping[str, Any], endpoints: AskedEndpoints, *, mac: str
    ) -> None: ...

    def created(self, c: Container, endpoints: AskedEndpoints) -> None: ...

    def attach(self, c: Container) -> NetworkAttachment: ...

    def detach(self, c: Container) -> None: ...

    def joined(self, c: Container) -> set[str]: ...


@dataclass(frozen=True)
class NetworkAttachment:
    netns: str | None = None
    addresses: tuple[str, ...] = ()  # this container's addresses, for its /etc/hosts
    dns: tuple[str, ...] = ()  # nameservers for its resolv.conf (empty: the host's)
    hosts: tuple[tuple[str, str], ...] = ()  # more /etc/hosts lines: (names, address)
    env: tuple[str, ...] = ()  # environment before the container's own (legacy links)
    host_gateway: str = ""  # what --add-host name:host-gateway resolves to


class NoNetworking:
    """Without networks: each container gets a new namespace with only loopback."""

    def check_create(
        self, host_config: Mapping[str, Any], endpoints: AskedEndpoints, *, mac: str
    ) -> None:
        return None

    def created(self, c: Container, endpoints: AskedEndpoints) -> None:
        return None

    def joined(self, c: Container) -> set[str]:
        return set()

    def attach(self, c: Container) -> NetworkAttachment:
        return NetworkAttachment()

    def detach(self, c: Container) -> None:
        return None
