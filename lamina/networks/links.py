"""Kernel network devices over netlink (pyroute2): bridges, veth pairs, addresses.

The only module that imports pyroute2 (the daemon imports it; the CLI never does).
Functions take plain values and act at once; each opens its own netlink socket, since
pyroute2's sockets are not shared between threads.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from lamina.errors import Conflict, Internal, map_errors
from lamina.networks import netns

EEXIST = 17
ENODEV = 19


@dataclass(frozen=True)
class Interface:
    """One container interface to make: a veth whose peer becomes `name` in `netns`."""

    host: str  # host end, enslaved to `bridge`
    peer: str  # temporary name of the container end while on the host
    name: str  # eth0, eth1 … in the container
    bridge: str
    address: IPv4Address
    subnet: IPv4Network
    mac: str
    gateway: IPv4Address | None  # None: no default route (--internal, or not the first)


@contextlib.contextmanager
def _ipr(namespace: Path | None = None) -> Iterator[IPRoute]:
    if namespace is None:
        ipr = IPRoute()
    else:
        sock = netns.socket_in(namespace, 16, 2, 0)  # AF_NETLINK, SOCK_DGRAM, NETLINK_ROUTE
        ipr = IPRoute(fileno=sock.detach())
    with contextlib.closing(ipr), map_errors({NetlinkError: Internal}, what="netlink"):
        yield ipr


def _index(ipr: IPRoute, name: str) -> int | None:
    found = ipr.link_lookup(ifname=name)
    return int(found[0]) if found else None


def ensure_bridge(name: str, gateway: IPv4Address, subnet: IPv4Network) -> None:
    """The bridge `name`, up, with the gateway address; idempotent."""
    with _ipr() as ipr:
        index = _index(ipr, name)
        if index is None:
            ipr.link("add", ifname=name, kind="bridge")
            index = _index(ipr, name)
        _disable_ipv6(name)
        try:
            ipr.addr("add", index=index, address=str(gateway), prefixlen=subnet.prefixlen)
        except NetlinkError as err:
            if err.code != EEXIST:
                raise Conflict(
                    f"cannot assign {gateway}/{subnet.prefixlen} to {name}: {err}"
                ) from err
        ipr.link("set", index=index, state="up")


def delete(name: str) -> None:
    """Delete a device (a veth takes its peer along); a missing one is not an error."""
    with _ipr() as ipr:
        index = _index(ipr, name)
        if index is None:
            return
        try:
            ipr.link("del", index=index)
        except NetlinkError as err:
            if err.code != ENODEV:
                raise


def names(prefix: str) -> list[str]:
    """Host devices whose names start with `prefix`."""
    with _ipr() as ipr:
        found = [str(link.get("ifname")) for link in ipr.get_links()]
    return [n for n in found if n.startswith(prefix)]


def names_in(namespace: Path) -> set[str]:
    """The devices inside the namespace pinned at `namespace`."""
    with _ipr(namespace) as ipr:
        return {str(link.get("ifname")) for link in ipr.get_links()}


def add_interface(namespace: Path, spec: Interface) -> None:
    """Make the veth pair, one end in the bridge and the other, configured, in the
    container's namespace (with loopback up).

    The peer is born inside the namespace: moving a device between namespaces waits
    for an RCU grace period (~15-20 ms a container start here), creating it there
    does not."""
    delete(spec.host)  # a leftover of a crashed attach would make "add" fail
    with _ipr() as ipr:
        bridge = _index(ipr, spec.bridge)
        if bridge is None:
            raise Internal(f"bridge {spec.bridge} is missing")
        fd = os.open(namespace, os.O_RDONLY | os.O_CLOEXEC)
        try:
            ipr.link(
                "add", ifname=spec.host, kind="veth", peer={"ifname": spec.peer, "net_ns_fd": fd}
            )
        finally:
            os.close(fd)
        host = _index(ipr, spec.host)
        _disable_ipv6(spec.host)
        ipr.link("set", index=host, master=bridge, state="up")
    with _ipr(namespace) as inside:
        index = _index(inside, spec.peer)
        inside.link("set", index=index, ifname=spec.name, address=spec.mac)
        inside.addr("add", index=index, address=str(spec.address), prefixlen=spec.subnet.prefixlen)
        inside.link("set", index=index, state="up")
        lo = _index(inside, "lo")
        inside.link("set", index=lo, state="up")
        if spec.gateway is not None:
            inside.route("add", dst="0.0.0.0/0", gateway=str(spec.gateway))


def unbridge(name: str) -> int | None:
    """Take a host device out of its bridge and down (the bridge forgets its addresses at
    once); returns its index, None if there is no such device."""
    with _ipr() as ipr:
        index = _index(ipr, name)
        if index is None:
            return None
        try:
            ipr.link("set", index=index, master=0, state="down")
        except NetlinkError as err:
            if err.code != ENODEV:
                raise
            return None
        return index


class Deleter:
    """Deletes host devices on a thread of its own. Deleting a veth waits for RCU grace
    periods (20-30 ms here) that a container's exit need not wait for; `drain()` waits
    until every device handed over is gone. Devices go by index, not name: a container
    restarted at once makes a new device with the same name, which must stay."""

    def __init__(self, log: Callable[[str], None] = lambda _m: None) -> None:
        self._devices: queue.Queue[tuple[int, str]] = queue.Queue()
        self._log = log
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()

    def delete(self, index: int, name: str) -> None:
        with self._lock:
            if self._worker is None or not self._worker.is_alive():
                worker = threading.Thread(target=self._work, name="netdev-delete", daemon=True)
                worker.start()
                self._worker = worker
        self._devices.put((index, name))

    def drain(self) -> None:
        self._devices.join()

    def _work(self) -> None:
        while True:
            index, name = self._devices.get()
            try:
                with _ipr() as ipr:
                    try:
                        ipr.link("del", index=index)
                    except NetlinkError as err:
                        if err.code != ENODEV:  # gone already: with its namespace, or plug's
                            raise
            except Exception as err:  # any: the thread must live on, drain() waits for it
                self._log(f"networks: cannot delete device {name}: {err}")
            finally:
                self._devices.task_done()


def remove_interface(namespace: Path, name: str, host: str) -> None:
    """Remove a container's interface (by its host end; the namespace may be gone)."""
    delete(host)
    if namespace.exists():
        with contextlib.suppress(Internal, OSError), _ipr(namespace) as inside:
            index = _index(inside, name)
            if index is not None:
                inside.link("del", index=index)


def _disable_ipv6(name: str) -> None:
    # Containers get IPv4 only; without this the host end would take a link-local
    # IPv6 address and answer neighbour discovery on the bridge.
    with contextlib.suppress(OSError):
        Path(f"/proc/sys/net/ipv6/conf/{name}/disable_ipv6").write_text("1")
