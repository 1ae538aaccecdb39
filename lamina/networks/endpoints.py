"""Endpoints: a member of a network plugged into its running container's namespace.

`plug` leases an address (records, one transaction), makes the veth pair and configures
the container's end; `unplug` undoes both. Either leaves nothing behind on failure.
`unplug_ended`, for a container that has ended, frees the address at once and leaves
the veth's deletion to a background thread.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable
from ipaddress import IPv4Address
from pathlib import Path

from lamina.containers.model import Container
from lamina.errors import InvalidArgument, LaminaError
from lamina.networks import ipam, links, naming
from lamina.networks.bridge import BridgeDriver
from lamina.networks.model import Driver, Member, Network, mac_for
from lamina.networks.records import NetworkRecords


class Endpoints:
    def __init__(
        self,
        records: NetworkRecords,
        driver: BridgeDriver,
        netns_dir: Path,
        *,
        log: Callable[[str], None] = lambda _m: None,
    ) -> None:
        self.records = records
        self.driver = driver
        self.netns_dir = netns_dir
        self.deleter = links.Deleter(log)

    def sandbox(self, container_id: str) -> Path:
        """Where the container's network namespace is pinned while it runs."""
        return self.netns_dir / container_id[:16]

    def plug(self, c: Container, m: Member, n: Network, *, default_route: bool) -> Member:
        if n.driver != Driver.BRIDGE or n.subnet is None or n.gateway is None:
            raise InvalidArgument(f"container cannot be connected to network {n.name}")
        self.driver.ensure_up(n)
        subnet, gateway = n.subnet, n.gateway

        def allocate(leased: set[IPv4Address]) -> IPv4Address:
            if m.config.ipv4 is not None:
                ipam.check_static(m.config.ipv4, subnet, gateway, leased)
                return m.config.ipv4
            return ipam.allocate(subnet, gateway, n.ip_range, leased, network_name=n.name)

        leased = self.records.lease(
            m,
            allocate,
            endpoint_id=secrets.token_hex(32),
            mac=lambda address: m.config.mac or mac_for(address),
            interface=self._free_interface(c.id),
            dns_names=dns_names(c, m) if n.dns else (),
        )
        assert leased.address is not None
        prefix = self.driver.prefix
        spec = links.Interface(
            host=naming.host_veth(prefix, c.id, n.id),
            peer=naming.peer_veth(prefix, c.id, n.id),
            name=leased.interface,
            bridge=self.driver.device(n),
            address=leased.address,
            subnet=subnet,
            mac=leased.mac,
            gateway=gateway if default_route and not n.internal else None,
        )
        try:
            links.add_interface(self.sandbox(c.id), spec)
        except BaseException:
            self.records.release(n.id, c.id)
            with contextlib.suppress(LaminaError, OSError):
                links.delete(spec.host)
            raise
        return leased

    def unplug(self, m: Member) -> None:
        """Remove the member's interface and free its address (idempotent)."""
        host = naming.host_veth(self.driver.prefix, m.container_id, m.network_id)
        links.remove_interface(self.sandbox(m.container_id), m.interface or "", host)
        self.records.release(m.network_id, m.container_id)

    def unplug_ended(self, m: Member) -> None:
        """`unplug` for a container whose processes are gone: its host end leaves the
        bridge at once, so the address can be leased again, and is deleted (with the
        peer) in the background."""
        host = naming.host_veth(self.driver.prefix, m.container_id, m.network_id)
        index = links.unbridge(host)
        if index is not None:
            self.deleter.delete(index, host)
        self.records.release(m.network_id, m.container_id)

    def _free_interface(self, container_id: str) -> str:
        used = {m.interface for m in self.records.members_of(container_id) if m.attached}
        return next(f"eth{i}" for i in range(len(used) + 1) if f"eth{i}" not in used)


def dns_names(c: Container, m: Member) -> tuple[str, ...]:
    """Docker's DNSNames: the container name, its aliases, short ID and hostname."""
    names = [c.name, *m.config.aliases, c.id[:12]]
    hostname = str(c.config.get("Hostname") or "")
    if hostname:
        names.append(hostname)
    return tuple(dict.fromkeys(names))
