"""A network and an endpoint as lamina records them (plain data, no I/O)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from typing import Any


class Driver(enum.StrEnum):
    BRIDGE = "bridge"
    HOST = "host"
    NULL = "null"  # Docker's driver name for the `none` network


# The predefined networks, as Docker names them; they cannot be created or removed.
DEFAULT_BRIDGE = "bridge"
PREDEFINED = {"bridge": Driver.BRIDGE, "host": Driver.HOST, "none": Driver.NULL}


@dataclass(frozen=True)
class Network:
    id: str
    name: str
    driver: Driver
    created: str  # RFC 3339
    subnet: IPv4Network | None = None
    gateway: IPv4Address | None = None
    ip_range: IPv4Network | None = None
    internal: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)

    @property
    def predefined(self) -> bool:
        return self.name in PREDEFINED

    @property
    def dns(self) -> bool:
        """User-defined bridge networks resolve container names; the default one does not."""
        return self.driver == Driver.BRIDGE and not self.predefined


@dataclass(frozen=True)
class EndpointConfig:
    """What a member asked for (Docker's EndpointSettings as sent by create/connect)."""

    aliases: tuple[str, ...] = ()
    ipv4: IPv4Address | None = None  # --ip
    mac: str = ""  # --mac-address ("" → derived from the address)
    links: tuple[tuple[str, str], ...] = ()  # (container, alias): DNS aliases, user networks

    def to_json(self) -> dict[str, Any]:
        return {
            "Aliases": list(self.aliases),
            "IPv4Address": str(self.ipv4 or ""),
            "MacAddress": self.mac,
            "Links": [list(link) for link in self.links],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EndpointConfig:
        ip = data.get("IPv4Address") or ""
        return cls(
            tuple(data.get("Aliases") or ()),
            IPv4Address(ip) if ip else None,
            str(data.get("MacAddress") or ""),
            tuple((str(a), str(b)) for a, b in data.get("Links") or ()),
        )


@dataclass(frozen=True)
class Member:
    """A container's membership of a network; `address` etc. are set while attached."""

    network_id: str
    container_id: str
    config: EndpointConfig
    endpoint_id: str = ""
    address: IPv4Address | None = None
    mac: str = ""
    interface: str = ""  # eth0, eth1 … inside the container
    dns_names: tuple[str, ...] = ()  # names other members resolve it by, while attached

    @property
    def attached(self) -> bool:
        return self.address is not None


def mac_for(address: IPv4Address) -> str:
    """Docker's scheme: 02:42 then the IPv4 bytes, so a reused address keeps its MAC and
    neighbours' ARP caches stay right."""
    return "02:42:" + ":".join(f"{b:02x}" for b in address.packed)


def joins_networks(host_config: Mapping[str, Any]) -> bool:
    """False for the host, none and container:<name> modes, which join no network."""
    mode = str(host_config.get("NetworkMode") or "default")
    return mode not in ("host", "none") and not mode.startswith("container:")
