"""`/containers/*`: create, list, inspect, the lifecycle (start, stop, restart, kill, wait,
remove, rename, prune), resize and top. Logs, attach, exec and archive have their own
modules (container_logs, attach, execs, archive)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from lamina.api import query
from lamina.api.http import Request, Response, Stream
from lamina.api.router import Router
from lamina.api.shapes import check_body
from lamina.api.views import containers as views
from lamina.api.views import networks as network_views
from lamina.containers import files
from lamina.containers.model import Container
from lamina.containers.spec import ContainerSpec
from lamina.containers.waiting import Wait
from lamina.engine import Engine

_TERMINAL = 65535  # a terminal's rows and columns are unsigned shorts
_LIST_FILTERS = {
    "status", "name", "id", "label", "ancestor", "exited", "before", "since", "volume",
    "health", "network",
}  # fmt: skip


@dataclass(frozen=True)
class CreateQuery:
    name: str = query.container_name()
    platform: str = query.text()


@dataclass(frozen=True)
class ListQuery:
    all: bool = query.flag()
    limit: int = query.integer(-1)
    filters: Mapping[str, list[str]] = query.filters(_LIST_FILTERS)


@dataclass(frozen=True)
class StopQuery:
    t: int | None = query.integer(None)
    timeout: int | None = query.integer(None)  # lamina's older name for t
    signal: str | None = query.signal()

    @property
    def seconds(self) -> int | None:
        """How long to wait before the kill: `t`, else `timeout`, else the container's."""
        return self.t if self.t is not None else self.timeout


@dataclass(frozen=True)
class KillQuery:
    signal: str | None = query.signal()


@dataclass(frozen=True)
class WaitQuery:
    condition: str = query.one_of(("not-running", "next-exit", "removed"), default="not-running")


@dataclass(frozen=True)
class RemoveQuery:
    force: bool = query.flag()
    v: bool = query.flag()


@dataclass(frozen=True)
class NameQuery:
    name: str = query.container_name()


@dataclass(frozen=True)
class PruneQuery:
    filters: Mapping[str, list[str]] = query.filters({"label", "label!", "until"})


@dataclass(frozen=True)
class ResizeQuery:
    h: int = query.integer(24, low=0, high=_TERMINAL)
    w: int = query.integer(80, low=0, high=_TERMINAL)


@dataclass(frozen=True)
class TopQuery:
    ps_args: str = query.text()


def register(router: Router, engine: Engine) -> None:
    """The routes; each handler decodes, makes one service call, encodes."""
    _register_queries(router, engine)
    _register_lifecycle(router, engine)
    _register_terminal(router, engine)


def _register_queries(router: Router, engine: Engine) -> None:
    containers = engine.containers

    @router.route("POST", "/containers/create")
    def create(req: Request) -> Response:
        c = containers.create(_create_spec(req))
        return Response.json({"Id": c.id, "Warnings": []}, 201)

    @router.route("GET", "/containers/json")
    def list_containers(req: Request) -> Any:
        q = query.decode(req, ListQuery)
        found = containers.matching(all_=q.all, limit=q.limit, filters=q.filters)
        return [
            views.summary(c, network=network_views.in_summary(engine.networks, c)) for c in found
        ]

    @router.route("GET", "/containers/{ref}/json")
    def inspect(req: Request, ref: str) -> Any:
        return _inspect(engine, containers.get(ref))

    @router.route("GET", "/containers/{ref}/top")
    def top(req: Request, ref: str) -> Any:
        return files.top(containers, containers.get(ref), query.decode(req, TopQuery).ps_args)


def _register_lifecycle(router: Router, engine: Engine) -> None:
    containers = engine.containers

    @router.route("POST", "/containers/{ref}/start")
    def start(req: Request, ref: str) -> Response:
        return Response(204 if containers.start(ref) else 304)

    @router.route("POST", "/containers/{ref}/stop")
    def stop(req: Request, ref: str) -> Response:
        q = query.decode(req, StopQuery)
        stopped = containers.stop(ref, timeout=q.seconds, signal=q.signal)
        return Response(204 if stopped else 304)

    @router.route("POST", "/containers/{ref}/restart")
    def restart(req: Request, ref: str) -> Response:
        q = query.decode(req, StopQuery)
        containers.restart(ref, timeout=q.seconds, signal=q.signal)
        return Response(204)

    @router.route("POST", "/containers/{ref}/kill")
    def kill(req: Request, ref: str) -> Response:
        containers.kill(ref, signal=query.decode(req, KillQuery).signal or "SIGKILL")
        return Response(204)

    @router.route("DELETE", "/containers/{ref}")
    def remove(req: Request, ref: str) -> Response:
        q = query.decode(req, RemoveQuery)
        containers.remove(ref, force=q.force, volumes=q.v)
        return Response(204)

    @router.route("POST", "/containers/{ref}/rename")
    def rename(req: Request, ref: str) -> Response:
        containers.rename(ref, query.decode(req, NameQuery).name)
        return Response(204)

    @router.route("POST", "/containers/prune")
    def prune(req: Request) -> Any:
        removed, reclaimed = containers.prune(query.decode(req, PruneQuery).filters)
        return {"ContainersDeleted": removed or None, "SpaceReclaimed": reclaimed}


def _register_terminal(router: Router, engine: Engine) -> None:
    containers = engine.containers

    @router.route("POST", "/containers/{ref}/wait")
    def wait(req: Request, ref: str) -> Response:
        q = query.decode(req, WaitQuery)
        # Registered before the head is sent: a client that has the head (docker run,
        # start -a, attach) starts the container or sends it input only then, and the
        # exit it waits for is fixed already. A 404 comes from here too.
        waiting = containers.wait(ref, condition=q.condition)
        body = _wait_answer(waiting, req.client_gone)
        return Response.stream(Stream(body, cleanup=waiting.cancel))

    @router.route("POST", "/containers/{ref}/resize")
    def resize(req: Request, ref: str) -> Response:
        q = query.decode(req, ResizeQuery)
        containers.resize(ref, height=q.h, width=q.w)
        return Response(200)


def _create_spec(req: Request) -> ContainerSpec:
    """The create's query, then its body's types (400s naming the parameter or field),
    then the spec they make (lamina.containers.spec)."""
    q = query.decode(req, CreateQuery)
    body = check_body(req.json(), "ContainerCreate")
    return ContainerSpec.from_body(body, name=q.name or None, platform=q.platform)


def _inspect(engine: Engine, c: Container) -> dict[str, Any]:
    """ContainerInspect: the container, with what the execs and networks know of it."""
    upper, work = engine.containers.layer_dirs(c)
    return views.inspect(
        c,
        log_path=engine.containers.log_path(c),
        container_dir=str(engine.containers.folder(c)),
        upper_dir=str(upper),
        work_dir=str(work),
        driver=engine.driver.name,
        exec_ids=engine.execs.for_container(c.id),
        network_settings=network_views.of_container(engine.networks, c),
    )


def _wait_answer(waiting: Wait, client_gone: Callable[[], bool]) -> Iterator[bytes]:
    """Docker's wait body: the result once the condition is met. Ends without one as
    soon as the client leaves, so a wait nobody reads gives back its stream slot."""
    code = waiting.result(gone=client_gone)
    if code is not None:
        yield json.dumps({"StatusCode": code, "Error": None}).encode() + b"\n"
