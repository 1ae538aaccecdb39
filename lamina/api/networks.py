"""`/networks*`: list, inspect, create, remove, prune, connect, disconnect."""

from __future__ import annotations

from typing import Any

from lamina.api import fields
from lamina.api.filters import parse_filters
from lamina.api.http import Request, Response
from lamina.api.router import Router
from lamina.engine import Engine
from lamina.errors import InvalidArgument
from lamina.networks.service import LIST_FILTERS


def register(router: Router, engine: Engine) -> None:
    networks = engine.networks

    @router.route("GET", "/networks")
    def list_networks(req: Request) -> Any:
        filters = parse_filters(req, set(LIST_FILTERS) | {"label!"})
        return [networks.view(n, verbose=False) for n in networks.matching(filters)]

    @router.route("GET", "/networks/{ref}")
    def inspect(req: Request, ref: str) -> Any:
        return networks.view(networks.get(ref))

    @router.route("POST", "/networks/create")
    def create(req: Request) -> Response:
        body = fields.json_object(req.json())
        if body.get("EnableIPv6"):
            raise InvalidArgument("IPv6 networks are not supported by lamina")
        ipam = fields.json_object(body.get("IPAM"))
        configs = ipam.get("Config") or []
        if not isinstance(configs, list) or len(configs) > 1:
            raise InvalidArgument("IPAM.Config: at most one IPv4 subnet is supported")
        config = fields.json_object(configs[0]) if configs else {}
        network = networks.create(
            fields.string(body, "Name"),
            driver=fields.string(body, "Driver") or "bridge",
            internal=bool(body.get("Internal")),
            labels=fields.strings(body, "Labels"),
            options=fields.strings(body, "Options"),
            subnet=fields.string(config, "Subnet"),
            gateway=fields.string(config, "Gateway"),
            ip_range=fields.string(config, "IPRange"),
        )
        return Response.json({"Id": network.id, "Warning": ""}, 201)

    @router.route("DELETE", "/networks/{ref}")
    def remove(req: Request, ref: str) -> None:
        networks.remove(ref)

    @router.route("POST", "/networks/prune")
    def prune(req: Request) -> Any:
        filters = parse_filters(req, {"label", "label!", "until"})
        return {"NetworksDeleted": networks.prune(filters) or None}

    @router.route("POST", "/networks/{ref}/connect")
    def connect(req: Request, ref: str) -> None:
        body = fields.json_object(req.json())
        endpoint = fields.json_object(body.get("EndpointConfig"))
        networks.connect(ref, fields.string(body, "Container"), endpoint)

    @router.route("POST", "/networks/{ref}/disconnect")
    def disconnect(req: Request, ref: str) -> None:
        body = fields.json_object(req.json())
        networks.disconnect(ref, fields.string(body, "Container"), force=bool(body.get("Force")))
