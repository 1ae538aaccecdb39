"""What a container asks of a network it joins: Docker's EndpointSettings, checked.

`endpoint_config` reads one EndpointsConfig value (from create or connect) into the
EndpointConfig lamina records, with dockerd's checks and messages: aliases and a
fixed address need a user-defined network, the MAC must be a unicast one, IPv6 is
refused (lamina's networks are IPv4 only).
"""

from __future__ import annotations

from collections.abc import Mapping
from ipaddress import IPv4Address
from typing import Any

from lamina.containers import hostopts
from lamina.errors import InvalidArgument
from lamina.networks.model import EndpointConfig, Network


def endpoint_config(n: Network, endpoint: Mapping[str, Any]) -> EndpointConfig:
    """Docker's EndpointSettings as asked; aliases and --ip need a user-defined network."""
    aliases = tuple(str(a) for a in endpoint.get("Aliases") or ())
    ipam_config = endpoint.get("IPAMConfig") or {}
    ip = str(ipam_config.get("IPv4Address") or "")
    for key in ("IPv6Address", "LinkLocalIPs"):
        if ipam_config.get(key):
            raise InvalidArgument(
                f"IPAMConfig.{key} is not supported: lamina networks are IPv4 only"
            )
    mac = _mac(str(endpoint.get("MacAddress") or ""))
    links = tuple(hostopts.links({"Links": endpoint.get("Links") or []}))
    if aliases and not n.dns:
        raise InvalidArgument(
            "network-scoped alias is supported only for containers in user defined networks"
        )
    if ip and (n.predefined or n.subnet is None):
        raise InvalidArgument(
            "user specified IP address is supported on user defined networks only"
        )
    try:
        config = EndpointConfig(aliases, IPv4Address(ip) if ip else None, mac, links)
    except ValueError as err:
        raise InvalidArgument(f"invalid IPv4 address: {ip}") from err
    if config.ipv4 is not None and n.subnet is not None and config.ipv4 not in n.subnet:
        raise InvalidArgument(f"no configured subnet or ip-range contain the IP address {ip}")
    return config


def _mac(text: str) -> str:
    """A unicast MAC as the kernel spells it ("" stays ""): Docker's `ParseMAC` check."""
    if not text:
        return ""
    parts = text.replace("-", ":").split(":")
    if len(parts) != 6 or not all(len(p) == 2 and _hex(p) for p in parts):
        raise InvalidArgument(f"invalid MAC address: {text}")
    if int(parts[0], 16) & 1:
        raise InvalidArgument(f"invalid MAC address: {text}: a multicast address")
    return ":".join(parts).lower()


def _hex(text: str) -> bool:
    return all(ch in "0123456789abcdefABCDEF" for ch in text)
