"""IPv4 address management: which subnet a network gets, which address an endpoint gets.

Pure functions over what is taken; the caller (records, in one SQLite transaction)
supplies the taken sets, and a unique index on (network, address) makes a double
lease impossible even if two callers raced.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from ipaddress import IPv4Address, IPv4Network, ip_address, ip_network
from pathlib import Path

from lamina.errors import Conflict, InvalidArgument, Unavailable


def default_pools() -> Iterator[IPv4Network]:
    """Docker's default address pools: 172.17-31.0.0/16, then 192.168.0.0/16 in /20s."""
    for second in range(17, 32):
        yield IPv4Network(f"172.{second}.0.0/16")
    yield from IPv4Network("192.168.0.0/16").subnets(new_prefix=20)


def choose_subnet(taken: Iterable[IPv4Network]) -> IPv4Network:
    """The first default pool that overlaps no taken subnet (host routes, other networks)."""
    used = list(taken)
    for pool in default_pools():
        if not any(pool.overlaps(t) for t in used):
            return pool
    raise Unavailable("could not find an available, non-overlapping IPv4 address pool")


def host_routes(path: Path = Path("/proc/net/route")) -> list[IPv4Network]:
    """Destinations of the host's IPv4 routes, except the default route."""
    out = []
    try:
        lines = path.read_text().splitlines()[1:]
    except OSError:
        return []
    for line in lines:
        fields = line.split()
        if len(fields) < 8:
            continue
        dest, mask = (IPv4Address(int(x, 16).to_bytes(4, "little")) for x in (fields[1], fields[7]))
        if int(mask):
            out.append(IPv4Network(f"{dest}/{mask}", strict=False))
    return out


def parse_config(
    subnet: str, gateway: str, ip_range: str
) -> tuple[IPv4Network, IPv4Address, IPv4Network | None]:
    """Check `--subnet/--gateway/--ip-range` as Docker does; the gateway defaults to the
    subnet's first address."""
    net = _network(subnet, "subnet")
    gw = _address(gateway, "gateway") if gateway else net.network_address + 1
    if gw not in net:
        raise InvalidArgument(f"no matching subnet for gateway {gateway}")
    pool = _network(ip_range, "ip-range") if ip_range else None
    if pool is not None and not pool.subnet_of(net):
        raise InvalidArgument(f"no matching subnet for range {ip_range}")
    if net.num_addresses < 4:
        raise InvalidArgument(f"subnet {net} is too small: at least a /30 is needed")
    return net, gw, pool


def allocate(
    subnet: IPv4Network,
    gateway: IPv4Address,
    ip_range: IPv4Network | None,
    leased: Collection[IPv4Address],
    *,
    network_name: str,
) -> IPv4Address:
    """The lowest free address of the range (or subnet), never the network, broadcast
    or gateway address."""
    reserved = {subnet.network_address, subnet.broadcast_address, gateway}
    for candidate in (ip_range or subnet).hosts():
        if candidate not in reserved and candidate not in leased:
            return candidate
    raise Unavailable(
        f"no available IPv4 addresses on this network's address pools: {network_name}"
    )


def check_static(
    address: IPv4Address,
    subnet: IPv4Network,
    gateway: IPv4Address,
    leased: Collection[IPv4Address],
) -> None:
    """A `--ip` request: inside the subnet, not reserved, not leased."""
    if address not in subnet:
        raise InvalidArgument(f"no configured subnet contains IP address {address}")
    if address in (subnet.network_address, subnet.broadcast_address, gateway):
        raise InvalidArgument(f"address {address} is reserved on network {subnet}")
    if address in leased:
        raise Conflict(f"Address already in use: {address}")


def _network(text: str, what: str) -> IPv4Network:
    try:
        net = ip_network(text, strict=False)
    except ValueError as err:
        raise InvalidArgument(f"invalid {what} {text}: {err}") from err
    if not isinstance(net, IPv4Network):
        raise InvalidArgument(f"invalid {what} {text}: only IPv4 is supported")
    if IPv4Address(text.split("/")[0]) != net.network_address:
        # Docker refuses host bits in a subnet ("10.1.2.3/24"); so do we.
        raise InvalidArgument(f"invalid {what} {text}: it has host bits set, use {net}")
    return net


def _address(text: str, what: str) -> IPv4Address:
    try:
        addr = ip_address(text)
    except ValueError as err:
        raise InvalidArgument(f"invalid {what} address {text}") from err
    if not isinstance(addr, IPv4Address):
        raise InvalidArgument(f"invalid {what} address {text}: only IPv4 is supported")
    return addr
