"""`/volumes*`: list, create, inspect, remove, prune."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lamina.api import query
from lamina.api.filters import bool_filter
from lamina.api.http import Request, Response
from lamina.api.router import Router
from lamina.api.shapes import check_body
from lamina.api.views import volumes as views
from lamina.engine import Engine
from lamina.volumes.service import LIST_FILTERS


@dataclass(frozen=True)
class RemoveQuery:
    force: bool = query.flag()


@dataclass(frozen=True)
class ListQuery:
    filters: Mapping[str, list[str]] = query.filters(LIST_FILTERS)


@dataclass(frozen=True)
class PruneQuery:
    filters: Mapping[str, list[str]] = query.filters({"label", "label!", "all"})


def register(router: Router, engine: Engine) -> None:
    volumes = engine.volumes

    @router.route("GET", "/volumes")
    def list_volumes(req: Request) -> Any:
        filters = query.decode(req, ListQuery).filters
        return {"Volumes": [views.volume(v) for v in volumes.list(filters)], "Warnings": None}

    @router.route("POST", "/volumes/create")
    def create(req: Request) -> Response:
        body = check_body(req.json(), "VolumeCreateOptions")
        volume = volumes.create(
            body.get("Name") or None,
            driver=body.get("Driver") or "local",
            labels=body.get("Labels") or {},
            options=body.get("DriverOpts") or {},
        )
        return Response.json(views.volume(volume), 201)

    @router.route("GET", "/volumes/{name}")
    def inspect(req: Request, name: str) -> Any:
        return views.volume(volumes.get(name))

    @router.route("DELETE", "/volumes/{name}")
    def remove(req: Request, name: str) -> None:
        volumes.remove(name, force=query.decode(req, RemoveQuery).force)

    @router.route("POST", "/volumes/prune")
    def prune(req: Request) -> Any:
        filters = query.decode(req, PruneQuery).filters
        # API 1.42 made plain prune spare named volumes; older clients still prune all.
        old_client = bool(req.api_version) and _older(req.api_version, "1.42")
        deleted, reclaimed = volumes.prune(
            all=bool(bool_filter(filters, "all")) or old_client,
            labels=filters.get("label", []),
            without_labels=filters.get("label!", []),
        )
        return {"VolumesDeleted": deleted or None, "SpaceReclaimed": reclaimed}


def _older(version: str, than: str) -> bool:
    return tuple(map(int, version.split("."))) < tuple(map(int, than.split(".")))
