"""Who resolves whom: the name table behind the DNS resolver.

Rebuilt from the member rows whenever an endpoint comes or goes; read by the resolver
thread for every query. A container resolves the DNS names of the attached members of
every user-defined network it is attached to (not the default bridge, as Docker), as
`name` or `name.network`; an address resolves back to `name.network`. A container's
links on a user-defined network (`--link name:alias`) are aliases only it resolves.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from ipaddress import IPv4Address

from lamina.networks.model import Member, Network


class NameTable:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._networks_of: dict[str, list[str]] = {}  # container → DNS-enabled network IDs
        self._names: dict[str, dict[str, list[IPv4Address]]] = {}  # network → name → addrs
        self._reverse: dict[str, dict[IPv4Address, str]] = {}  # network → addr → FQDN
        self._network_names: dict[str, str] = {}
        self._links: dict[str, dict[str, str]] = {}  # container → alias → linked name

    def rebuild(self, networks: Iterable[Network], members: Iterable[Member]) -> None:
        dns = {n.id: n for n in networks if n.dns}
        networks_of: dict[str, list[str]] = {}
        names: dict[str, dict[str, list[IPv4Address]]] = {nid: {} for nid in dns}
        reverse: dict[str, dict[IPv4Address, str]] = {nid: {} for nid in dns}
        links: dict[str, dict[str, str]] = {}
        for m in members:
            if m.network_id not in dns or m.address is None:
                continue
            networks_of.setdefault(m.container_id, []).append(m.network_id)
            for target, alias in m.config.links:
                links.setdefault(m.container_id, {})[alias.lower()] = target.lower()
            for name in m.dns_names:
                names[m.network_id].setdefault(name.lower(), []).append(m.address)
            if m.dns_names:
                reverse[m.network_id][m.address] = f"{m.dns_names[0]}.{dns[m.network_id].name}"
        with self._lock:
            self._networks_of, self._names, self._reverse = networks_of, names, reverse
            self._network_names = {nid: n.name.lower() for nid, n in dns.items()}
            self._links = links

    def serves(self, container_id: str) -> bool:
        with self._lock:
            return container_id in self._networks_of

    def lookup(self, container_id: str, name: str) -> list[IPv4Address]:
        name = name.lower().rstrip(".")
        found: list[IPv4Address] = []
        with self._lock:
            aliases = self._links.get(container_id, {})
            for nid in self._networks_of.get(container_id, []):
                table = self._names.get(nid, {})
                suffix = "." + self._network_names.get(nid, "")
                short = name[: -len(suffix)] if name.endswith(suffix) else None
                for candidate in (name, short):
                    candidate = aliases.get(candidate or "", candidate)
                    if candidate:
                        found += [a for a in table.get(candidate, []) if a not in found]
        return found

    def reverse(self, container_id: str, address: IPv4Address) -> str | None:
        with self._lock:
            for nid in self._networks_of.get(container_id, []):
                fqdn = self._reverse.get(nid, {}).get(address)
                if fqdn:
                    return fqdn
        return None
