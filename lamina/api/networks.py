"""`/networks*`: list, inspect, create, remove, prune, connect, disconnect."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lamina.api import query
from lamina.api.http import Request, Response
from lamina.api.router import Router
from lamina.api.shapes import check_body
from lamina.api.views import networks as views
from lamina.engine import Engine
from lamina.errors import InvalidArgument
from lamina.labels import check_labels
from lamina.networks.service import LIST_FILTERS


@dataclass(frozen=True)
class ListQuery:
    filters: Mapping[str, list[str]] = query.filters({*LIST_FILTERS, "label!"})


@dataclass(frozen=True)
class NetworkCreate:
    """A create body as the service takes it; what lamina cannot make is a 400 here."""

    name: str
    driver: str
    internal: bool
    labels: Mapping[str, str]
    options: Mapping[str, str]
    subnet: str
    gateway: str
    ip_range: str

    @classmethod
    def decode(cls, body: Mapping[str, Any]) -> NetworkCreate:
        """From a body of the right types (lamina.api.shapes)."""
        check_labels(body.get("Labels"), "Labels")  # the service stores what it is given
        if body.get("EnableIPv6"):
            raise InvalidArgument("IPv6 networks are not supported by lamina")
        configs = (body.get("IPAM") or {}).get("Config") or []
        if len(configs) > 1:
            raise InvalidArgument("IPAM.Config: at most one IPv4 subnet is supported")
        config = configs[0] or {} if configs else {}
        return cls(
            name=body.get("Name") or "",
            driver=body.get("Driver") or "bridge",
            internal=bool(body.get("Internal")),
            labels=body.get("Labels") or {},
            options=body.get("Options") or {},
            subnet=config.get("Subnet") or "",
            gateway=config.get("Gateway") or "",
            ip_range=config.get("IPRange") or "",
        )


@dataclass(frozen=True)
class PruneQuery:
    filters: Mapping[str, list[str]] = query.filters({"label", "label!", "until"})


def register(router: Router, engine: Engine) -> None:
    networks = engine.networks

    @router.route("GET", "/networks")
    def list_networks(req: Request) -> Any:
        filters = query.decode(req, ListQuery).filters
        return [views.of_network(networks, n, verbose=False) for n in networks.matching(filters)]

    @router.route("GET", "/networks/{ref}")
    def inspect(req: Request, ref: str) -> Any:
        return views.of_network(networks, networks.get(ref))

    @router.route("POST", "/networks/create")
    def create(req: Request) -> Response:
        spec = NetworkCreate.decode(check_body(req.json(), "NetworkCreateRequest"))
        network = networks.create(
            spec.name,
            driver=spec.driver,
            internal=spec.internal,
            labels=spec.labels,
            options=spec.options,
            subnet=spec.subnet,
            gateway=spec.gateway,
            ip_range=spec.ip_range,
        )
        return Response.json({"Id": network.id, "Warning": ""}, 201)

    @router.route("DELETE", "/networks/{ref}")
    def remove(req: Request, ref: str) -> None:
        networks.remove(ref)

    @router.route("POST", "/networks/prune")
    def prune(req: Request) -> Any:
        filters = query.decode(req, PruneQuery).filters
        return {"NetworksDeleted": networks.prune(filters) or None}

    @router.route("POST", "/networks/{ref}/connect")
    def connect(req: Request, ref: str) -> None:
        body = check_body(req.json(), "NetworkConnectRequest")
        networks.connect(ref, body.get("Container") or "", body.get("EndpointConfig") or {})

    @router.route("POST", "/networks/{ref}/disconnect")
    def disconnect(req: Request, ref: str) -> None:
        body = check_body(req.json(), "NetworkDisconnectRequest")
        networks.disconnect(ref, body.get("Container") or "", force=bool(body.get("Force")))
