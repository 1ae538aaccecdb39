"""The bridge driver: a network's bridge device and firewall rules, up and down."""

from __future__ import annotations

from lamina.errors import Internal
from lamina.networks import links, naming
from lamina.networks.firewall import Firewall, bridge_rules
from lamina.networks.model import DEFAULT_BRIDGE, Network


class BridgeDriver:
    def __init__(self, prefix: str, firewall: Firewall) -> None:
        self.prefix = prefix
        self.firewall = firewall
        self._up: set[str] = set()  # networks this daemon brought up

    def device(self, n: Network) -> str:
        return naming.bridge(self.prefix, n.id, default=n.name == DEFAULT_BRIDGE)

    def up(self, n: Network) -> None:
        """Bridge with the gateway address, and its rules; idempotent."""
        if n.subnet is None or n.gateway is None:
            raise Internal(f"network {n.name} has no subnet")
        links.ensure_bridge(self.device(n), n.gateway, n.subnet)
        self.firewall.install(n.id, bridge_rules(self.device(n), internal=n.internal))
        self._up.add(n.id)

    def ensure_up(self, n: Network) -> None:
        if n.id not in self._up:
            self.up(n)

    def down(self, n: Network) -> None:
        self.firewall.remove(n.id)
        links.delete(self.device(n))
        self._up.discard(n.id)
