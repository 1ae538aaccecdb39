"""Starting and stopping the daemon: make the host match the records.

At start (`restore`), before the container service adopts its containers: the
predefined networks exist (the default bridge gets the first free pool), every bridge
network is up with its rules, and whatever carries this instance's prefix or comment
but belongs to no record — a crashed daemon's veths, rules, namespaces, proxies — is
removed. A daemon killed inside `network connect` or `disconnect` leaves a running
container's member half made: recorded attached with no device, or a device with the
record detached; the request never succeeded, so the change is finished as a disconnect
(`_finish_interrupted`). Containers that kept running get their DNS and ports back
(`resume`); those that died meanwhile are detached by the container service's restore.
Nothing here stops or restarts a container.

At a clean stop (`shutdown`), bridges with no running container go with their rules,
so a stopped daemon leaves nothing on the host but what its running containers use.
"""

from __future__ import annotations

import contextlib
import secrets
import time

from lamina.containers.model import Status
from lamina.errors import LaminaError, NotFound
from lamina.networks import ipam, links, naming, netns
from lamina.networks.model import DEFAULT_BRIDGE, PREDEFINED, Driver, Member, Network
from lamina.networks.service import NetworkService
from lamina.timestamps import rfc3339

_LIVE = (Status.RUNNING, Status.PAUSED)  # restarting: its processes are gone meanwhile
DEFAULT_BRIDGE_OPTIONS = {
    "com.docker.network.bridge.default_bridge": "true",
    "com.docker.network.bridge.enable_icc": "true",
    "com.docker.network.bridge.enable_ip_masquerade": "false",
}


def restore(s: NetworkService) -> None:
    with s.lock:
        _predefined(s)
        networks = [n for n in s.records.all() if n.driver == Driver.BRIDGE]
        running = {c.id for c in s.all_containers() if c.state.status in _LIVE}
        _finish_interrupted(s, running)
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
        # A running container keeps its namespace, attached or not (it may connect again).
        _sweep_sandboxes(s, {cid[:16] for cid in running | {m.container_id for m in leased}})
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


def _finish_interrupted(s: NetworkService, running: set[str]) -> None:
    """Every member of a running container has its interface, or it leaves the network.

    A member of a running container is complete when it is recorded attached, its host
    veth exists, and its interface is in the container's namespace. connect records the
    member, leases an address, then makes the veth; disconnect deletes the veth, frees
    the address, then the member: a kill between any two steps leaves a member that is
    not complete, which would block `network rm` (an "active endpoint") and the next
    `connect` ("already exists"). The devices it leaves are swept by the caller."""
    devices = set(links.names(s.prefix))
    for cid in sorted(running):
        members = s.records.members_of(cid)
        inside = _names_inside(s, cid) if members else None
        for m in members:
            if not _complete(s, m, devices, inside):
                s.log(
                    f"networks: container {cid[:12]} leaves network {m.network_id[:12]}: "
                    "a connect or disconnect was interrupted"
                )
                s.records.leave(m.network_id, cid)


def _complete(s: NetworkService, m: Member, devices: set[str], inside: set[str] | None) -> bool:
    host = naming.host_veth(s.prefix, m.container_id, m.network_id)
    return m.attached and host in devices and (inside is None or m.interface in inside)


def _names_inside(s: NetworkService, container_id: str) -> set[str] | None:
    """The devices in a container's namespace; None when it cannot be looked into (its
    pin is gone): nothing is judged by what cannot be seen."""
    try:
        return links.names_in(s.endpoints.sandbox(container_id))
    except (LaminaError, OSError):
        return None


def _sweep_sandboxes(s: NetworkService, keep: set[str]) -> None:
    directory = s.endpoints.netns_dir
    if not directory.exists():
        return
    for path in directory.iterdir():
        if path.name not in keep:
            s.log(f"networks: removing leftover namespace {path}")
            netns.remove(path)


def _sweep_proxies(s: NetworkService, keep: set[str]) -> None:
    for cid in s.publisher.sweep(keep):
        s.log(f"networks: stopped a leftover port proxy of {cid[:12]}")
