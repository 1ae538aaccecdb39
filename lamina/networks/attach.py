"""The containers' side of networks: lamina.containers.networking.Networking.

    check_create(…), created(c, …): a create's networks checked, then recorded
    attach(c): namespace ─▶ an endpoint per member (eth0, eth1 …) ─▶ DNS ─▶ ports
    detach(c): ports ─▶ DNS ─▶ endpoints ─▶ namespace      (idempotent; also undoes
                                                            a half-done attach)

`--network host` needs nothing here (the spec shares the host's namespace); `none`
gets a new namespace from the runtime; `container:<name>` joins that container's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lamina.containers import etcfiles
from lamina.containers.model import Container
from lamina.containers.networking import AskedEndpoints, NetworkAttachment
from lamina.errors import Conflict, LaminaError, NotFound
from lamina.networks import legacy_links, netns, ports
from lamina.networks.model import (
    DEFAULT_BRIDGE,
    EndpointConfig,
    Member,
    Network,
    joins_networks,
)
from lamina.networks.resolver import ADDRESS

if TYPE_CHECKING:
    from lamina.networks.service import NetworkService


class ContainerNetworking:
    def __init__(self, service: NetworkService) -> None:
        self.s = service

    def check_create(
        self, host_config: Mapping[str, Any], endpoints: AskedEndpoints, *, mac: str
    ) -> None:
        self.s.check_create(host_config, endpoints, mac=mac)

    def created(self, c: Container, endpoints: AskedEndpoints) -> None:
        self.s.created(c, endpoints)

    def joined(self, c: Container) -> set[str]:
        joined = self.s.container_networks(c)
        return set(joined) | {n.id for n, _ in joined.values()}

    def attach(self, c: Container) -> NetworkAttachment:
        mode = str(c.host_config.get("NetworkMode") or "default")
        gateway = self._host_gateway()
        if mode in ("host", "none"):
            return NetworkAttachment(host_gateway=gateway)
        if mode.startswith("container:"):
            other = self.s.container(mode.partition(":")[2])
            if not other.state.running:
                raise Conflict(f"cannot join network of a non running container: {other.id}")
            netns = str(self.s.endpoints.sandbox(other.id))
            return NetworkAttachment(netns=netns, host_gateway=gateway)
        with self.s.lock:
            try:
                return self._attach(c)
            except BaseException:
                self.detach(c)
                raise

    def _attach(self, c: Container) -> NetworkAttachment:
        members = self._members(c)
        path = self.s.endpoints.sandbox(c.id)
        netns.create(path)
        attached: list[Member] = []
        for m in members:
            n = self.s.get(m.network_id)
            attached.append(self.s.endpoints.plug(c, m, n, default_route=not attached))
        self._refresh_dns(c.id)
        if attached and attached[0].address is not None:
            self.s.publisher.publish(c.id, attached[0].address, ports.plan(c.host_config, c.config))
        hosts, env = self._legacy_links(c, attached)
        return NetworkAttachment(
            netns=str(path),
            addresses=tuple(str(m.address) for m in attached),
            dns=(ADDRESS,) if self.s.names.serves(c.id) else (),
            hosts=tuple(hosts),
            env=tuple(env),
            host_gateway=self._host_gateway(),
        )

    def _host_gateway(self) -> str:
        """Docker's host-gateway: the default bridge's gateway, the host's address on it."""
        with contextlib.suppress(NotFound):
            gateway = self.s.get(DEFAULT_BRIDGE).gateway
            return str(gateway) if gateway is not None else ""
        return ""

    def _legacy_links(
        self, c: Container, attached: list[Member]
    ) -> tuple[list[tuple[str, str]], list[str]]:
        """--link on the default bridge (on user-defined networks they are DNS aliases)."""
        bridge = self.s.get(DEFAULT_BRIDGE)
        if not any(m.network_id == bridge.id for m in attached):
            return [], []

        def bridge_member(cid: str) -> Member | None:
            return next(
                (m for m in self.s.records.members_of(cid) if m.network_id == bridge.id), None
            )

        return legacy_links.links_of(c, self.s.container, bridge_member)

    def _members(self, c: Container) -> list[Member]:
        """The container's members, its NetworkMode network first (recorded now if it was
        created without the API, or before networks existed)."""
        primary = self.s.primary(c.host_config)
        assert primary is not None
        n = self.s.get(primary)  # a removed network: "network X not found", as Docker
        members = self.s.records.members_of(c.id)
        if not any(m.network_id == n.id for m in members):
            self.s.records.join(n.id, c.id, EndpointConfig())
            members = self.s.records.members_of(c.id)
        return sorted(members, key=lambda m: m.network_id != n.id)

    def detach(self, c: Container) -> None:
        if not joins_networks(c.host_config):
            return  # attach() made nothing for these, and they cannot join a network
        with self.s.lock:
            self.s.publisher.unpublish(c.id)
            self.s.resolver.stop(c.id)
            for m in self.s.records.members_of(c.id):
                if m.attached:  # a lease comes before its veth, so no lease, no veth
                    with contextlib.suppress(NotFound):
                        self.s.endpoints.unplug_ended(m)
            netns.remove(self.s.endpoints.sandbox(c.id))
            self._rebuild_names()

    # -- changes while running (network connect / disconnect) -------------------

    def plug_live(self, c: Container, n: Network) -> None:
        member = next(m for m in self.s.records.members_of(c.id) if m.network_id == n.id)
        first = not any(m.attached for m in self.s.records.members_of(c.id))
        self.s.endpoints.plug(c, member, n, default_route=first)
        served = c.id in self.s.resolver.serving()
        self._refresh_dns(c.id)
        if not served and self.s.names.serves(c.id) and not c.host_config.get("Dns"):
            # As Docker: joining a user-defined network turns on its resolver.
            self._point_resolv_conf(c)

    def _point_resolv_conf(self, c: Container) -> None:
        # The runner's layout (lamina.containers.runner): <root>/containers/<id>/resolv.conf,
        # bind-mounted into the container, so it is rewritten in place, not replaced.
        hc = c.host_config
        text = etcfiles.resolv_text(
            etcfiles.Resolv(
                nameservers=(ADDRESS,),
                search=tuple(hc["DnsSearch"]) if hc.get("DnsSearch") else None,
                options=tuple(hc["DnsOptions"]) if hc.get("DnsOptions") else None,
                internal=True,
            )
        )
        path = self.s.root / "containers" / c.id / "resolv.conf"
        with contextlib.suppress(OSError), open(path, "r+") as f:
            f.truncate(0)
            f.write(text)

    def unplug_live(self, c: Container, m: Member) -> None:
        self.s.endpoints.unplug(m)
        self._refresh_dns(c.id)

    # -- after a daemon restart -------------------------------------------------

    def resume(self, c: Container) -> None:
        """Serve DNS and published ports again for a container that kept running."""
        path = self.s.endpoints.sandbox(c.id)
        if not path.exists():
            return
        self._refresh_dns(c.id)
        attached = [m for m in self.s.records.members_of(c.id) if m.attached]
        if attached and attached[0].address and not self.s.publisher.running(c.id):
            self.s.publisher.unpublish(c.id)
            try:
                self.s.publisher.publish(
                    c.id, attached[0].address, ports.plan(c.host_config, c.config)
                )
            except LaminaError as err:
                self.s.log(f"container {c.id[:12]}: cannot publish its ports again: {err}")

    def _refresh_dns(self, container_id: str) -> None:
        self._rebuild_names()
        if self.s.names.serves(container_id):
            if container_id not in self.s.resolver.serving():
                self.s.resolver.serve(container_id, self.s.endpoints.sandbox(container_id))
        else:
            self.s.resolver.stop(container_id)

    def _rebuild_names(self) -> None:
        self.s.names.rebuild(self.s.records.all(), self.s.records.members())
