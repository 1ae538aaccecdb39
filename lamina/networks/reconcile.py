"""Starting and stopping the daemon: make the host match the records.

At start (`restore`), before the container service adopts its containers: the
predefined networks exist (the default bridge gets the first free pool), every bridge
network is up with its rules, and whatever carries this instance's prefix or comment
but belongs to no record — a crashed daemon's veths, rules, namespaces, proxies — is
removed. Containers that kept running get their DNS and ports back (`resume`); those
that died meanwhile are detached by the container service's restore.

At a clean stop (`shutdown`), bridges with no running container go with their rules,
so a stopped daemon leaves nothing on the host but what its running containers use.
"""

from __future__ import annotations

import contextlib
import secrets
import time

from lamina.errors import LaminaError, NotFound
from lamina.networks import ipam, links, naming, netns
from lamina.networks.model import DEFAULT_BRIDGE, PREDEFINED, Driver, Network
from lamina.networks.service import NetworkService
from lamina.oci.image import rfc3339

DEFAULT_BRIDGE_OPTIONS = {
    "com.docker.network.bridge.default_bridge": "true",
    "com.docker.network.bridge.enable_icc": "true",
    "com.docker.network.bridge.enable_ip_masquerade": "false",
}


def restore(s: NetworkService) -> None:
    with s.lock:
        _predefined(s)
        networks = [n for n in s.records.all() if n.driver == Driver.BRIDGE]
        leased = [m for m in s.records.members() if m.attached]
        keep = {s.driver.device(n) for n in networks}
        keep |= {naming.host_veth(s.prefix, m.container_id, m.network_id) for m in leased}
        for name in links.names(s.prefix):
            if name not in keep:
                s.log(f"networks: removing leftover device {name}")
                links.delete(name)
        try:
            for line in s.driver.firewall.sweep(keep={n.id for n in networks}):
                s.log(f"networks: removed leftover rule {line}")
        except LaminaError as err:  # no iptables: the daemon still serves, networks fail
            s.log(f"networks: cannot read the firewall rules: {err}")
        for n in networks:
            try:
                s.driver.up(n)
            except LaminaError as err:
                s.log(f"networks: cannot bring up network {n.name}: {err}")
        _sweep_sandboxes(s, {m.container_id[:16] for m in leased})
        _sweep_proxies(s, {m.container_id for m in leased})
        for cid in sorted({m.container_id for m in leased}):
            with contextlib.suppress(NotFound):
                c = s.container(cid)
                if c.state.running:
                    s.networking.resume(c)


def shutdown(s: NetworkService) -> None:
    s.endpoints.deleter.drain()
    with s.lock:
        s.resolver.close()
        for n in s.records.all():
            if n.driver == Driver.BRIDGE and not any(m.attached for m in s.records.members(n.id)):
                try:
                    s.driver.down(n)
                except LaminaError as err:
                    s.log(f"networks: cannot take down network {n.name}: {err}")


def _predefined(s: NetworkService) -> None:
    have = {n.name for n in s.records.all()}
    for name, driver in PREDEFINED.items():
        if name in have:
            continue
        subnet = gateway = None
        if driver == Driver.BRIDGE:
            taken = [n.subnet for n in s.records.all() if n.subnet is not None]
            subnet = ipam.choose_subnet([*taken, *ipam.host_routes()])
            gateway = subnet.network_address + 1
        s.records.add(
            Network(
                id=secrets.token_hex(32),
                name=name,
                driver=driver,
                created=rfc3339(time.time()),
                subnet=subnet,
                gateway=gateway,
                options=DEFAULT_BRIDGE_OPTIONS if name == DEFAULT_BRIDGE else {},
            )
        )


def _sweep_sandboxes(s: NetworkService, keep: set[str]) -> None:
    directory = s.endpoints.netns_dir
    if not directory.exists():
        return
    for path in directory.iterdir():
        if path.name not in keep:
            s.log(f"networks: removing leftover namespace {path}")
            netns.remove(path)


def _sweep_proxies(s: NetworkService, keep: set[str]) -> None:
    for cid in s.publisher.containers():
        if cid not in keep:
            s.log(f"networks: stopping leftover proxy of {cid[:12]}")
            s.publisher.unpublish(cid)
