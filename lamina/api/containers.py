"""`/containers/*`: create, list, inspect, the lifecycle (start, stop, restart, kill, wait,
remove, rename, prune), resize and top. Logs, attach, exec and archive have their own
modules (container_logs, attach, execs, archive)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from lamina.api import query
from lamina.api.filters import bool_filter
from lamina.api.http import Request, Response, Stream
from lamina.api.router import Router
from lamina.api.shapes import check_body
from lamina.containers import files, views
from lamina.containers.logs import place as logplace
from lamina.containers.model import Container, Status
from lamina.containers.monitor import client as monitor
from lamina.containers.waiting import Wait
from lamina.engine import Engine
from lamina.errors import LaminaError
from lamina.filters import labels_match

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
    containers = engine.containers

    @router.route("POST", "/containers/create")
    def create(req: Request) -> Response:
        q = query.decode(req, CreateQuery)
        body = check_body(req.json(), "ContainerCreate")
        c = engine.create_container(body, name=q.name or None, platform=q.platform)
        return Response.json({"Id": c.id, "Warnings": []}, 201)

    @router.route("GET", "/containers/json")
    def list_containers(req: Request) -> Any:
        q = query.decode(req, ListQuery)
        found = [c for c in containers.all() if _matches(engine, c, q.filters, all_=q.all)]
        if q.limit > 0:
            found = found[: q.limit]
        return [views.summary(c, network=engine.networks.summary_fields(c)) for c in found]

    @router.route("GET", "/containers/{ref}/json")
    def inspect(req: Request, ref: str) -> Any:
        c = containers.get(ref)
        runner = containers.runner
        return views.inspect(
            c,
            log_path=logplace.shown_path(runner.dir(c.id), c),
            container_dir=str(runner.dir(c.id)),
            upper_dir=str(runner.upper(c.id)),
            work_dir=str(runner.work(c.id)),
            driver=engine.driver.name,
            exec_ids=engine.execs.for_container(c.id),
            network_settings=engine.networks.inspect_settings(c),
        )

    @router.route("POST", "/containers/{ref}/start")
    def start(req: Request, ref: str) -> Response:
        return Response(204 if containers.start(ref) else 304)

    @router.route("POST", "/containers/{ref}/stop")
    def stop(req: Request, ref: str) -> Response:
        q = query.decode(req, StopQuery)
        stopped = containers.stop(ref, timeout=_first(q.t, q.timeout), signal=q.signal)
        return Response(204 if stopped else 304)

    @router.route("POST", "/containers/{ref}/restart")
    def restart(req: Request, ref: str) -> Response:
        q = query.decode(req, StopQuery)
        containers.restart(ref, timeout=_first(q.t, q.timeout), signal=q.signal)
        return Response(204)

    @router.route("POST", "/containers/{ref}/kill")
    def kill(req: Request, ref: str) -> Response:
        containers.kill(ref, signal=query.decode(req, KillQuery).signal or "SIGKILL")
        return Response(204)

    @router.route("POST", "/containers/{ref}/wait")
    def wait(req: Request, ref: str) -> Response:
        q = query.decode(req, WaitQuery)
        # Registered before the head is sent: a client that has the head (docker run,
        # start -a, attach) starts the container or sends it input only then, and the
        # exit it waits for is fixed already. A 404 comes from here too.
        waiting = containers.wait(ref, condition=q.condition)
        body = _wait_answer(waiting, req.client_gone)
        return Response.stream(Stream(body, cleanup=waiting.cancel))

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

    @router.route("POST", "/containers/{ref}/resize")
    def resize(req: Request, ref: str) -> Response:
        q = query.decode(req, ResizeQuery)
        c = containers.get(ref)
        if c.state.running:
            monitor.control(containers.runner.files(c.id), "resize", height=q.h, width=q.w)
        return Response(200)

    @router.route("GET", "/containers/{ref}/top")
    def top(req: Request, ref: str) -> Any:
        return files.top(containers, containers.get(ref), query.decode(req, TopQuery).ps_args)


def _first(*values: int | None) -> int | None:
    return next((v for v in values if v is not None), None)


def _wait_answer(waiting: Wait, client_gone: Callable[[], bool]) -> Iterator[bytes]:
    """Docker's wait body: the result once the condition is met. Ends without one as
    soon as the client leaves, so a wait nobody reads gives back its stream slot."""
    code = waiting.result(gone=client_gone)
    if code is not None:
        yield json.dumps({"StatusCode": code, "Error": None}).encode() + b"\n"


def _matches(engine: Engine, c: Container, filters: Mapping[str, list[str]], *, all_: bool) -> bool:
    status = filters.get("status")
    if not all_ and not status and not c.state.running:
        return False
    if status and str(c.state.status) not in status:
        return False
    if filters.get("name") and not any(n in c.name for n in filters["name"]):
        return False
    if filters.get("id") and not any(c.id.startswith(i) for i in filters["id"]):
        return False
    if not labels_match(c.config.get("Labels") or {}, filters.get("label", [])):
        return False
    if filters.get("exited") and (
        c.state.status != Status.EXITED or str(c.state.exit_code) not in filters["exited"]
    ):
        return False
    if filters.get("ancestor") and not any(_ancestor(engine, c, a) for a in filters["ancestor"]):
        return False
    if filters.get("volume") and not any(
        m.name in filters["volume"] or m.destination in filters["volume"] for m in c.mounts
    ):
        return False
    if filters.get("network"):
        joined = engine.networks.container_networks(c)
        names_and_ids = set(joined) | {n.id for n, _ in joined.values()}
        if not names_and_ids & set(filters["network"]):
            return False
    return bool_filter(filters, "dangling") is None


def _ancestor(engine: Engine, c: Container, name: str) -> bool:
    try:
        return engine.images.resolve(name) == c.image_id
    except LaminaError:  # not an image we have (any more): compare what was asked for
        return c.image == name
