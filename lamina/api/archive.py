"""`/containers/{id}/archive`: stat a path (HEAD), read it as a tar (GET), unpack a tar
into the container (PUT). A PUT's tar is read as it is unpacked, never held whole; it
claims a stream slot before it reads, so a slow upload holds no request thread."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from lamina.api import query
from lamina.api.http import Request, Response
from lamina.api.router import Router
from lamina.containers import files
from lamina.engine import Engine
from lamina.errors import InvalidArgument

_STAT_HEADER = "X-Docker-Container-Path-Stat"


@dataclass(frozen=True)
class PathQuery:
    path: str = query.text()


def register(router: Router, engine: Engine) -> None:
    containers = engine.containers

    @router.route("HEAD", "/containers/{ref}/archive")
    def archive_stat(req: Request, ref: str) -> Response:
        path = _path_arg(req)
        c = containers.get(ref)
        with files.container_root(containers, c) as root:
            info = files.path_stat(root, path)
        return Response(200, headers={_STAT_HEADER: files.stat_header(info)})

    @router.route("GET", "/containers/{ref}/archive")
    def archive_get(req: Request, ref: str) -> Response:
        path = _path_arg(req)
        c = containers.get(ref)
        with files.container_root(containers, c) as root:
            info = files.path_stat(root, path)
            tar = files.read_archive(root, path)
        headers = {_STAT_HEADER: files.stat_header(info)}
        return Response(200, _chunks(tar), "application/x-tar", headers)

    @router.route("PUT", "/containers/{ref}/archive")
    def archive_put(req: Request, ref: str) -> Response:
        path = _path_arg(req)
        c = containers.get(ref)
        if c.host_config.get("ReadonlyRootfs") and not c.state.running:
            raise InvalidArgument("container rootfs is marked read-only")
        req.claim_stream()
        with files.container_root(containers, c) as root:
            files.write_archive(root, path, req.body)
        return Response(200)


def _path_arg(req: Request) -> str:
    path = query.decode(req, PathQuery).path
    if not path:
        raise InvalidArgument("Bad parameter: path must not be empty")
    return path


def _chunks(f: IO[bytes]) -> Iterator[bytes]:
    with f:
        while chunk := f.read(1 << 20):
            yield chunk
