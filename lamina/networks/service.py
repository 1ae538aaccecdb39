"""The network service: Docker's network commands, and the containers' Networking.

    create ──▶ (bridge up) ── connect/disconnect ── rm (no active endpoints) / prune

`networking` (lamina.networks.attach) is what the container service calls at start and
stop. One lock orders every change of networks, members and host devices; the
container service calls `attach`/`detach` holding its own lock first, and nothing here
takes the container service's lock, so the two never wait on each other in a circle.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from ipaddress import IPv4Network
from typing import Any, Protocol

from lamina.config import Paths
from lamina.containers.model import Container
from lamina.containers.networking import AskedEndpoints
from lamina.errors import AlreadyExists, Conflict, InvalidArgument, LaminaError, NotFound
from lamina.filters import labels_match, timestamp
from lamina.networks import ipam
from lamina.networks.bridge import BridgeDriver
from lamina.networks.endpoint_settings import endpoint_config
from lamina.networks.endpoints import Endpoints
from lamina.networks.firewall import Firewall, Runner, run_iptables
from lamina.networks.model import (
    DEFAULT_BRIDGE,
    PREDEFINED,
    Driver,
    Member,
    Network,
    joins_networks,
)
from lamina.networks.names import NameTable
from lamina.networks.publish import Publisher
from lamina.networks.records import NetworkRecords
from lamina.networks.resolver import Resolver
from lamina.store.metadata import Metadata
from lamina.timestamps import parse_rfc3339, rfc3339

Log = Callable[[str], None]
LIST_FILTERS = ("driver", "id", "label", "name", "scope", "type", "dangling")


class ContainerLookup(Protocol):
    """The containers networks read (lamina.containers.records.ContainerRecords)."""

    def find(self, ref: str) -> Container: ...

    def all(self) -> list[Container]: ...


class NetworkService:
    def __init__(
        self,
        paths: Paths,
        db: Metadata,
        containers: ContainerLookup,
        *,
        log: Log = lambda _m: None,
        iptables: Runner = run_iptables,
    ) -> None:
        from lamina.networks.attach import ContainerNetworking

        self.prefix = paths.device_prefix
        self.root = paths.root
        self.log = log
        self.records = NetworkRecords(db)
        self.driver = BridgeDriver(self.prefix, Firewall(self.prefix, iptables))
        self.endpoints = Endpoints(self.records, self.driver, paths.run_dir / "netns", log=log)
        self.names = NameTable()
        self.resolver = Resolver(self.names, log=log)
        self.publisher = Publisher(paths.run_dir)
        self.lock = threading.RLock()
        self.containers = containers
        self.networking = ContainerNetworking(self)

    # -- lookup ---------------------------------------------------------------

    def get(self, ref: str) -> Network:
        return self.records.find(ref)

    def matching(self, filters: Mapping[str, list[str]]) -> list[Network]:
        return [n for n in self.records.all() if self._matches(n, filters)]

    def members(self, network_id: str) -> list[Member]:
        return self.records.members(network_id)

    def members_of(self, container_id: str) -> list[Member]:
        return self.records.members_of(container_id)

    def container(self, ref: str) -> Container:
        return self.containers.find(ref)

    def all_containers(self) -> list[Container]:
        return self.containers.all()

    # -- create / remove ------------------------------------------------------

    def create(
        self,
        name: str,
        *,
        driver: str = "bridge",
        internal: bool = False,
        labels: Mapping[str, str] | None = None,
        options: Mapping[str, str] | None = None,
        subnet: str = "",
        gateway: str = "",
        ip_range: str = "",
    ) -> Network:
        if not name:
            raise InvalidArgument("network name must be given")
        if name in PREDEFINED:
            raise Conflict(f"network with name {name} already exists")
        if driver in ("host", "null"):
            raise Conflict(f'only one instance of "{driver}" network is allowed')
        if driver != "bridge":
            raise NotFound(f'plugin "{driver}" not found')
        with self.lock:
            if any(n.name == name for n in self.records.all()):
                raise AlreadyExists(f"network with name {name} already exists")
            net, gw, pool = self._address_space(subnet, gateway, ip_range)
            network = Network(
                id=secrets.token_hex(32),
                name=name,
                driver=Driver.BRIDGE,
                created=rfc3339(time.time()),
                subnet=net,
                gateway=gw,
                ip_range=pool,
                internal=internal,
                labels=dict(labels or {}),
                options=dict(options or {}),
            )
            self.records.add(network)
            try:
                self.driver.up(network)
            except BaseException:
                self.driver.down(network)
                self.records.remove(network.id)
                raise
        return network

    def _address_space(
        self, subnet: str, gateway: str, ip_range: str
    ) -> tuple[IPv4Network, Any, IPv4Network | None]:
        ours = [n.subnet for n in self.records.all() if n.subnet is not None]
        if not subnet:
            if gateway or ip_range:
                raise InvalidArgument("a gateway or ip-range needs a subnet (--subnet)")
            chosen = ipam.choose_subnet([*ours, *ipam.host_routes()])
            return chosen, chosen.network_address + 1, None
        net, gw, pool = ipam.parse_config(subnet, gateway, ip_range)
        if any(net.overlaps(o) for o in ours):
            raise Conflict(
                "invalid pool request: Pool overlaps with other one on this address space"
            )
        if any(net.overlaps(r) for r in ipam.host_routes() if r not in ours):
            raise Conflict(f"invalid pool request: {net} overlaps with a route of this host")
        return net, gw, pool

    def remove(self, ref: str) -> Network:
        with self.lock:
            n = self.get(ref)
            if n.predefined:
                raise InvalidArgument(f"{n.name} is a pre-defined network and cannot be removed")
            if any(m.attached for m in self.records.members(n.id)):
                raise Conflict(
                    f"error while removing network: network {n.name} has active endpoints"
                )
            self.driver.down(n)
            self.records.remove(n.id)
        return n

    def prune(self, filters: Mapping[str, list[str]]) -> list[str]:
        removed = []
        for n in self.records.all():
            if n.predefined or not _label_match(n, filters) or not _until_match(n, filters):
                continue
            if any(m.attached for m in self.records.members(n.id)):
                continue
            try:
                removed.append(self.remove(n.id).name)
            except Conflict:
                continue  # a container joined meanwhile
        return removed

    # -- membership -----------------------------------------------------------

    def connect(self, ref: str, container_ref: str, endpoint: Mapping[str, Any] | None) -> None:
        with self.lock:
            n, c = self.get(ref), self.container(container_ref)
            if not joins_networks(c.host_config):
                raise InvalidArgument(
                    "container sharing network namespace with another container or host "
                    "cannot be connected to any other network"
                )
            if n.driver == Driver.HOST:
                raise InvalidArgument(
                    "container cannot be disconnected from host network or connected to host "
                    "network"
                )
            if n.driver != Driver.BRIDGE:
                raise InvalidArgument(
                    "container cannot be connected to multiple networks with one of the "
                    "networks in private (none) mode"
                )
            config = endpoint_config(n, endpoint or {})
            if any(m.network_id == n.id for m in self.records.members_of(c.id)):
                raise Conflict(f"endpoint with name {c.name} already exists in network {n.name}")
            self.records.join(n.id, c.id, config)
            if c.state.running:
                try:
                    self.networking.plug_live(c, n)
                except BaseException:  # a connect that failed leaves no member behind
                    self._undo_join(n.id, c.id)
                    raise

    def _undo_join(self, network_id: str, container_id: str) -> None:
        for m in self.records.members_of(container_id):
            if m.network_id == network_id and m.attached:
                with contextlib.suppress(LaminaError, OSError):
                    self.endpoints.unplug(m)
        self.records.leave(network_id, container_id)

    def disconnect(self, ref: str, container_ref: str, *, force: bool = False) -> None:
        with self.lock:
            n, c = self.get(ref), self.container(container_ref)
            member = next((m for m in self.records.members_of(c.id) if m.network_id == n.id), None)
            if member is None:
                if force:
                    return
                raise Conflict(f"container {c.id} is not connected to network {n.name}")
            if member.attached:
                self.networking.unplug_live(c, member)
            self.records.leave(n.id, c.id)

    def check_create(
        self, host_config: Mapping[str, Any], asked: AskedEndpoints, *, mac: str = ""
    ) -> None:
        """Refuse a container create that names a missing network, or asks an alias,
        address or MAC of a network that cannot give one (Docker's checks at create)."""
        endpoints = self._asked(host_config, asked, mac)
        primary = self.primary(host_config)
        if primary is None:
            return
        self.get(primary)  # "network X not found" before the container exists
        for ref, endpoint in endpoints.items():
            n = self.get(ref)
            endpoint_config(n, endpoint or {})

    def created(self, c: Container, asked: AskedEndpoints) -> None:
        """Record the memberships a new container asked for."""
        primary = self.primary(c.host_config)
        if primary is None:
            return
        endpoints = self._asked(c.host_config, asked, str(c.config.get("MacAddress") or ""))
        with self.lock:
            n = self.get(primary)
            self.records.join(
                n.id, c.id, endpoint_config(n, endpoints.pop(primary, endpoints.pop(n.id, {})))
            )
            for ref, endpoint in endpoints.items():
                other = self.get(ref)
                if other.id != n.id:
                    self.records.join(other.id, c.id, endpoint_config(other, endpoint))

    def primary(self, host_config: Mapping[str, Any]) -> str | None:
        """The network NetworkMode names (the default bridge for "default"), or None
        for host, none and container: modes, which join no network."""
        if not joins_networks(host_config):
            return None
        return self._alias_of(str(host_config.get("NetworkMode") or "default"))

    def _asked(
        self, host_config: Mapping[str, Any], asked: AskedEndpoints, mac: str
    ) -> dict[str, dict[str, Any]]:
        """The endpoints asked for by network, with what dockerd moves into the primary
        network's endpoint: the container-wide MacAddress (deprecated since API 1.44)
        and, on a user-defined network, HostConfig.Links (DNS aliases there)."""
        endpoints = {self._alias_of(k): dict(v) for k, v in asked.items()}
        primary = self.primary(host_config)
        if mac and primary is None:
            raise InvalidArgument("conflicting options: mac-address and the network mode")
        if primary is None:
            return endpoints
        key = primary if primary in endpoints else self._key_of(primary, endpoints)
        endpoint = endpoints.setdefault(key, {})
        if mac and endpoint.get("MacAddress") not in (None, "", mac):
            raise InvalidArgument(
                "the container-wide MAC address must match the endpoint-specific MAC address "
                "for the main network, or be left empty"
            )
        if mac:
            endpoint["MacAddress"] = mac
        if host_config.get("Links") and primary != DEFAULT_BRIDGE:
            endpoint["Links"] = [*(endpoint.get("Links") or []), *host_config["Links"]]
        return endpoints

    def _key_of(self, primary: str, endpoints: Mapping[str, Any]) -> str:
        """The EndpointsConfig key naming the primary network by another of its names."""
        try:
            n = self.get(primary)
        except NotFound:
            return primary
        return next((k for k in endpoints if k in (n.id, n.name)), primary)

    @staticmethod
    def _alias_of(ref: str) -> str:
        return DEFAULT_BRIDGE if ref in ("default", "") else ref

    # -- what containers show (inspect, ps) ------------------------------------

    def container_networks(self, c: Container) -> dict[str, tuple[Network, Member | None]]:
        mode = str(c.host_config.get("NetworkMode") or "default")
        out: dict[str, tuple[Network, Member | None]] = {}
        if mode in ("host", "none"):
            with contextlib.suppress(NotFound):
                out[mode] = (self.get(mode), None)
        for m in self.records.members_of(c.id):
            with contextlib.suppress(NotFound):
                n = self.get(m.network_id)
                out[n.name] = (n, m)
        return out

    def container_name(self, cid: str) -> str:
        """The name of a member's container; "" for one removed meanwhile."""
        try:
            return self.container(cid).name
        except NotFound:
            return ""

    # -- daemon start and stop ------------------------------------------------

    def restore(self) -> None:
        from lamina.networks import reconcile

        reconcile.restore(self)

    def shutdown(self) -> None:
        from lamina.networks import reconcile

        reconcile.shutdown(self)

    # -- filters --------------------------------------------------------------

    def _matches(self, n: Network, filters: Mapping[str, list[str]]) -> bool:
        checks: dict[str, Callable[[str], bool]] = {
            "driver": lambda v: str(n.driver) == v,
            "id": lambda v: n.id.startswith(v),
            "name": lambda v: v in n.name,
            "scope": lambda v: v == "local",
            "type": lambda v: v == ("builtin" if n.predefined else "custom"),
        }
        for key, check in checks.items():
            if filters.get(key) and not any(check(v) for v in filters[key]):
                return False
        if filters.get("dangling"):
            dangling = not n.predefined and not self.records.members(n.id)
            if (filters["dangling"][-1].lower() in ("true", "1")) != dangling:
                return False
        return _label_match(n, filters)


def _label_match(n: Network, filters: Mapping[str, list[str]]) -> bool:
    return labels_match(n.labels, filters.get("label", []), filters.get("label!", []))


def _until_match(n: Network, filters: Mapping[str, list[str]]) -> bool:
    created = parse_rfc3339(n.created)
    return all(created < timestamp(until) for until in filters.get("until", []))
