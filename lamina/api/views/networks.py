"""Networks as the Docker Engine API shows them, and a container's NetworkSettings."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from lamina.containers.model import Container
from lamina.networks import ports
from lamina.networks.model import DEFAULT_BRIDGE, Member, Network
from lamina.networks.ports import Published
from lamina.networks.service import NetworkService

NameOf = Callable[[str], str]


def network(
    n: Network, members: Iterable[Member], name_of: NameOf, *, verbose: bool = True
) -> dict[str, Any]:
    """NetworkResource; `Containers` lists attached members (empty in lists, as Docker)."""
    config = []
    if n.subnet is not None:
        entry = {"Subnet": str(n.subnet), "Gateway": str(n.gateway)}
        if n.ip_range is not None:
            entry["IPRange"] = str(n.ip_range)
        config.append(entry)
    containers = {
        m.container_id: {
            "Name": name_of(m.container_id),
            "EndpointID": m.endpoint_id,
            "MacAddress": m.mac,
            "IPv4Address": f"{m.address}/{n.subnet.prefixlen if n.subnet else 32}",
            "IPv6Address": "",
        }
        for m in members
        if m.attached
    }
    return {
        "Name": n.name,
        "Id": n.id,
        "Created": n.created,
        "Scope": "local",
        "Driver": str(n.driver),
        "EnableIPv4": True,
        "EnableIPv6": False,
        "IPAM": {"Driver": "default", "Options": None if n.predefined else {}, "Config": config},
        "Internal": n.internal,
        "Attachable": False,
        "Ingress": False,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": False,
        "Containers": containers if verbose else {},
        "Options": dict(n.options),
        "Labels": dict(n.labels),
    }


def endpoint(n: Network, m: Member | None) -> dict[str, Any]:
    """EndpointSettings of a container on `n` (addresses empty while it is stopped)."""
    attached = m is not None and m.attached
    config = m.config if m is not None else None
    return {
        "IPAMConfig": {"IPv4Address": str(config.ipv4)} if config and config.ipv4 else None,
        "Links": None,
        "Aliases": list(config.aliases) if config and config.aliases else None,
        "MacAddress": m.mac if m and attached else "",
        "DriverOpts": None,
        "NetworkID": n.id,
        "EndpointID": m.endpoint_id if m and attached else "",
        "Gateway": str(n.gateway) if attached and n.gateway and not n.internal else "",
        "IPAddress": str(m.address) if m and attached else "",
        "IPPrefixLen": n.subnet.prefixlen if attached and n.subnet else 0,
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "DNSNames": list(m.dns_names) if m and m.dns_names else None,
    }


def port_map(c: Container, published: list[Published]) -> dict[str, Any]:
    """NetworkSettings.Ports: exposed ports, with their host bindings while running."""
    if not c.state.running:
        return {}
    out: dict[str, Any] = {
        f"{p}/{proto}": None for p, proto in ports.exposed(c.host_config, c.config)
    }
    for p in published:
        out.setdefault(f"{p.container_port}/{p.proto}", None)
        out[f"{p.container_port}/{p.proto}"] = [
            *(out[f"{p.container_port}/{p.proto}"] or []),
            {"HostIp": p.host_ip, "HostPort": str(p.host_port)},
        ]
    return out


def summary_ports(c: Container, published: list[Published]) -> list[dict[str, Any]]:
    """ContainerSummary.Ports."""
    if not c.state.running:
        return []
    out: list[dict[str, Any]] = [
        {
            "IP": p.host_ip,
            "PrivatePort": p.container_port,
            "PublicPort": p.host_port,
            "Type": p.proto,
        }
        for p in published
    ]
    done = {(p.container_port, p.proto) for p in published}
    out += [
        {"PrivatePort": port, "Type": proto}
        for port, proto in ports.exposed(c.host_config, c.config)
        if (port, proto) not in done
    ]
    return out


def settings(
    c: Container,
    networks: dict[str, tuple[Network, Member | None]],
    published: list[Published],
    sandbox: str,
) -> dict[str, Any]:
    """NetworkSettings of inspect; the top-level address fields describe the default
    bridge, as Docker's do."""
    on = {name: endpoint(n, m) for name, (n, m) in networks.items()}
    bridge = on.get(DEFAULT_BRIDGE, {})
    running = c.state.running
    return {
        "Bridge": "",
        "SandboxID": c.id if running else "",
        "SandboxKey": sandbox if running else "",
        "Ports": port_map(c, published),
        "HairpinMode": False,
        "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0,
        "SecondaryIPAddresses": None,
        "SecondaryIPv6Addresses": None,
        "EndpointID": bridge.get("EndpointID", ""),
        "Gateway": bridge.get("Gateway", ""),
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "IPAddress": bridge.get("IPAddress", ""),
        "IPPrefixLen": bridge.get("IPPrefixLen", 0),
        "IPv6Gateway": "",
        "MacAddress": bridge.get("MacAddress", ""),
        "Networks": on,
    }


def of_network(networks: NetworkService, n: Network, *, verbose: bool = True) -> dict[str, Any]:
    """A network as inspect (and, not verbose, the list) shows it."""
    return network(n, networks.members(n.id), networks.container_name, verbose=verbose)


def of_container(networks: NetworkService, c: Container) -> dict[str, Any]:
    """A container's NetworkSettings, as its inspect shows them."""
    sandbox = str(networks.endpoints.sandbox(c.id))
    joined = networks.container_networks(c)
    return settings(c, joined, networks.publisher.published(c.id), sandbox)


def in_summary(networks: NetworkService, c: Container) -> dict[str, Any]:
    """What a container's summary (`GET /containers/json`) shows of its networks."""
    joined = {name: endpoint(n, m) for name, (n, m) in networks.container_networks(c).items()}
    return {"Ports": summary_ports(c, networks.publisher.published(c.id)), "Networks": joined}
