"""`/networks*`: list, inspect, create, remove, prune, connect, disconnect."""

from __future__ import annotations

from typing import Any

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
        body = _object(req.json())
        if body.get("EnableIPv6"):
            raise InvalidArgument("IPv6 networks are not supported by lamina")
        ipam = _object(body.get("IPAM"))
        configs = ipam.get("Config") or []
        if not isinstance(configs, list) or len(configs) > 1:
            raise InvalidArgument("IPAM.Config: at most one IPv4 subnet is supported")
        config = _object(configs[0]) if configs else {}
        network = networks.create(
            _string(body, "Name"),
            driver=_string(body, "Driver") or "bridge",
            internal=bool(body.get("Internal")),
            labels=_strings(body, "Labels"),
            options=_strings(body, "Options"),
            subnet=_string(config, "Subnet"),
            gateway=_string(config, "Gateway"),
            ip_range=_string(config, "IPRange"),
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
        body = _object(req.json())
        endpoint = _object(body.get("EndpointConfig"))
        networks.connect(ref, _string(body, "Container"), endpoint)

    @router.route("POST", "/networks/{ref}/disconnect")
    def disconnect(req: Request, ref: str) -> None:
        body = _object(req.json())
        networks.disconnect(ref, _string(body, "Container"), force=bool(body.get("Force")))


def _object(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidArgument("expected a JSON object")
    return value


def _string(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidArgument(f"{key} must be a string")
    return value


def _strings(body: dict[str, Any], key: str) -> dict[str, str]:
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise InvalidArgument(f"{key} must be an object of strings")
    return value
