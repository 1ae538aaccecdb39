"""`/containers/*` and `/exec/*`: lifecycle, inspect, logs, attach, exec, archive."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from lamina.api import query
from lamina.api.filters import bool_filter
from lamina.api.http import HIJACKED, Request, Response
from lamina.api.router import Router
from lamina.api.shapes import check_body
from lamina.api.streams import splice
from lamina.containers import files, views
from lamina.containers.logs import place as logplace
from lamina.containers.logs.place import LogFiles
from lamina.containers.logs.reader import read_batches
from lamina.containers.model import Container, Status
from lamina.containers.monitor import client as monitor
from lamina.containers.service import start_waiting
from lamina.containers.state import State as MonitorState
from lamina.containers.state import Status as MonitorStatus
from lamina.containers.stdio import STDERR, STDOUT, AttachRequest, encode_frame
from lamina.engine import Engine
from lamina.errors import InvalidArgument, LaminaError, NotFound
from lamina.filters import labels_match

RAW = "application/vnd.docker.raw-stream"
MULTIPLEXED = "application/vnd.docker.multiplexed-stream"
_TERMINAL = 65535  # a terminal's rows and columns are unsigned shorts


@dataclass(frozen=True)
class StopQuery:
    t: int | None = query.integer(None)
    timeout: int | None = query.integer(None)  # lamina's older name for t
    signal: str | None = query.signal()


@dataclass(frozen=True)
class KillQuery:
    signal: str | None = query.signal()


_LIST_FILTERS = {
    "status", "name", "id", "label", "ancestor", "exited", "before", "since", "volume",
    "health", "network",
}  # fmt: skip


@dataclass(frozen=True)
class ListQuery:
    all: bool = query.flag()
    limit: int = query.integer(-1)
    filters: Mapping[str, list[str]] = query.filters(_LIST_FILTERS)


@dataclass(frozen=True)
class PruneQuery:
    filters: Mapping[str, list[str]] = query.filters({"label", "label!", "until"})


@dataclass(frozen=True)
class ResizeQuery:
    h: int = query.integer(24, low=0, high=_TERMINAL)
    w: int = query.integer(80, low=0, high=_TERMINAL)


@dataclass(frozen=True)
class AttachQuery:
    stdin: bool = query.flag()
    stdout: bool = query.flag()
    stderr: bool = query.flag()
    logs: bool = query.flag()
    stream: bool = query.flag()


@dataclass(frozen=True)
class RemoveQuery:
    force: bool = query.flag()
    v: bool = query.flag()


@dataclass(frozen=True)
class WaitQuery:
    condition: str = query.one_of(("not-running", "next-exit", "removed"), default="not-running")


@dataclass(frozen=True)
class NameQuery:
    name: str = query.container_name()


@dataclass(frozen=True)
class CreateQuery:
    name: str = query.container_name()
    platform: str = query.text()


@dataclass(frozen=True)
class TopQuery:
    ps_args: str = query.text()


@dataclass(frozen=True)
class PathQuery:
    path: str = query.text()


def register(router: Router, engine: Engine) -> None:
    containers = engine.containers
    execs = engine.execs

    @router.route("POST", "/containers/create")
    def create(req: Request) -> Response:
        body = _create_body(req)
        networking = body.get("NetworkingConfig") or {}
        engine.networks.check_create(
            body.get("HostConfig") or {}, networking, mac=str(body.get("MacAddress") or "")
        )
        q = query.decode(req, CreateQuery)
        c = containers.create(body, name=q.name or None, platform=q.platform)
        engine.networks.created(c, networking)
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
            driver=engine.driver.name,
            exec_ids=execs.for_container(c.id),
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
        condition = query.decode(req, WaitQuery).condition
        containers.get(ref)  # a 404 before the stream starts
        return Response.stream(_wait_stream(engine, ref, condition))

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

    @router.route("GET", "/containers/{ref}/logs")
    def logs(req: Request, ref: str) -> Response:
        c = containers.get(ref)
        q = query.decode(req, LogsQuery)
        if not (q.stdout or q.stderr):
            raise InvalidArgument("Bad parameters: you must choose at least one stream")
        files = logplace.log_files(containers.runner.dir(c.id), c)
        return Response.stream(_log_stream(engine, c, files, q), RAW if c.tty else MULTIPLEXED)

    @router.route("POST", "/containers/{ref}/attach")
    def attach(req: Request, ref: str) -> Response:
        q = query.decode(req, AttachQuery)
        c = containers.get(ref)
        req.claim_stream()  # before the attach is registered: a 503 leaves nothing behind
        request = AttachRequest(stdin=q.stdin, stdout=q.stdout, stderr=q.stderr, logs=q.logs)
        # Register for the live stream before answering: the client starts the
        # container as soon as it has our answer, and must not miss its first output.
        logs = replace(query.decode(req, LogsQuery), follow=False) if request.logs else None
        files = logplace.log_files(containers.runner.dir(c.id), c) if logs is not None else None
        live = _prepare_attach(engine, c, request) if q.stream else None
        client = req.hijack(RAW if c.tty else MULTIPLEXED)
        try:
            if logs is not None and files is not None:
                for chunk in _log_stream(engine, c, files, logs):
                    client.sendall(chunk)
            if live is not None:
                upstream = live.wait() if isinstance(live, _AttachAtStart) else live
                if upstream is not None:
                    splice(client, upstream, stdin=request.stdin)
        except (BrokenPipeError, ConnectionResetError):  # the client left during the logs
            _abandon(engine, c.id, live)
        finally:
            with contextlib.suppress(OSError):
                client.shutdown(2)
        return HIJACKED

    @router.route("GET", "/containers/{ref}/top")
    def top(req: Request, ref: str) -> Any:
        return files.top(containers, containers.get(ref), query.decode(req, TopQuery).ps_args)

    @router.route("HEAD", "/containers/{ref}/archive")
    def archive_stat(req: Request, ref: str) -> Response:
        path = _path_arg(req)
        c = containers.get(ref)
        with files.container_root(containers, c) as root:
            info = files.path_stat(root, path)
        return Response(200, headers={"X-Docker-Container-Path-Stat": files.stat_header(info)})

    @router.route("GET", "/containers/{ref}/archive")
    def archive_get(req: Request, ref: str) -> Response:
        path = _path_arg(req)
        c = containers.get(ref)
        with files.container_root(containers, c) as root:
            info = files.path_stat(root, path)
            tar = files.read_archive(root, path)
        return Response(
            200,
            _chunks(tar),
            "application/x-tar",
            {"X-Docker-Container-Path-Stat": files.stat_header(info)},
        )

    @router.route("PUT", "/containers/{ref}/archive")
    def archive_put(req: Request, ref: str) -> Response:
        path = _path_arg(req)
        c = containers.get(ref)
        if c.host_config.get("ReadonlyRootfs") and not c.state.running:
            raise InvalidArgument("container rootfs is marked read-only")
        with files.container_root(containers, c) as root:
            files.write_archive(root, path, req.body)
        return Response(200)

    @router.route("POST", "/containers/{ref}/exec")
    def exec_create(req: Request, ref: str) -> Response:
        ex = execs.create(ref, check_body(req.json(), "ExecConfig"))
        return Response.json({"Id": ex.id}, 201)

    @router.route("POST", "/exec/{exec_id}/start")
    def exec_start(req: Request, exec_id: str) -> Response:
        body = check_body(req.json(), "ExecStartConfig")
        detach = bool(body.get("Detach"))
        ex = execs.get(exec_id)
        tty = bool(ex.config.get("Tty") if body.get("Tty") is None else body["Tty"])
        if detach:
            execs.start(exec_id, attached=False, tty=tty)
            return Response(200)
        req.claim_stream()
        execs.start(exec_id, attached=True, tty=tty)
        files = execs.files(ex)
        request = AttachRequest(stdin=bool(ex.config.get("AttachStdin")), stdout=True, stderr=True)
        upstream = monitor.attach(files, request)
        client = req.hijack(RAW if tty else MULTIPLEXED)
        start_waiting(files)
        splice(client, upstream, stdin=request.stdin)
        return HIJACKED

    @router.route("GET", "/exec/{exec_id}/json")
    def exec_inspect(req: Request, exec_id: str) -> Any:
        return execs.inspect(exec_id)

    @router.route("POST", "/exec/{exec_id}/resize")
    def exec_resize(req: Request, exec_id: str) -> Response:
        q = query.decode(req, ResizeQuery)
        ex = execs.get(exec_id)
        if ex.started and not ex.done.is_set():
            monitor.control(execs.files(ex), "resize", height=q.h, width=q.w)
        return Response(200)


def _prepare_attach(engine: Engine, c: Container, request: AttachRequest) -> Any:
    """A connection to the running container's monitor, or a waiter that start will
    connect (`docker run`/`start -a` attach before they start), or None."""
    containers = engine.containers
    with containers.lock:
        current = containers.get(c.id)
        if current.state.running:
            return monitor.attach(containers.runner.files(c.id), request)
        if current.state.status in (Status.CREATED, Status.EXITED):
            waiter = _AttachAtStart(engine, c.id, request)
            containers.attach_hooks.setdefault(c.id, []).append(waiter.hook)
            return waiter
    return None


def _abandon(engine: Engine, cid: str, live: Any) -> None:
    """Let go of an attach nobody reads: its monitor connection, or its start hook."""
    if isinstance(live, _AttachAtStart):
        with engine.containers.lock:
            hooks = engine.containers.attach_hooks.get(cid, [])
            if live.hook in hooks:
                hooks.remove(live.hook)
        live = live.sock
    if live is not None:
        live.close()


class _AttachAtStart:
    def __init__(self, engine: Engine, cid: str, request: AttachRequest) -> None:
        self.engine = engine
        self.cid = cid
        self.request = request
        self.ready = threading.Event()
        self.sock: Any = None

    def hook(self, state: MonitorState) -> None:
        """Called by start, after the monitor is up and before the process starts."""
        if state.status != MonitorStatus.CREATE_FAILED:
            files = self.engine.containers.runner.files(self.cid)
            self.sock = monitor.attach(files, self.request)
        self.ready.set()

    def wait(self) -> Any:
        while not self.ready.wait(1.0):
            try:
                self.engine.containers.get(self.cid)
            except NotFound:
                return None
        return self.sock


def _create_body(req: Request) -> dict[str, Any]:
    """The create body, its types checked against the spec's (lamina.api.shapes); the
    values that would break something later than create are refused here too."""
    body = check_body(req.json(), "ContainerCreate")
    query.check_labels(body.get("Labels"), "Labels")
    query.parse_signal(body.get("StopSignal") or "")
    return body


def _first(*values: int | None) -> int | None:
    return next((v for v in values if v is not None), None)


def _path_arg(req: Request) -> str:
    path = query.decode(req, PathQuery).path
    if not path:
        raise InvalidArgument("Bad parameter: path must not be empty")
    return path


def _chunks(f: Any) -> Iterator[bytes]:
    with f:
        while chunk := f.read(1 << 20):
            yield chunk


def _wait_stream(engine: Engine, ref: str, condition: str) -> Iterator[bytes]:
    # Docker sends the headers at once, then the result when the condition is met.
    yield b""
    result = engine.containers.wait(ref, condition=condition)
    yield json.dumps(result).encode() + b"\n"


@dataclass(frozen=True)
class LogsQuery:
    """What `logs` (and attach's logs=1) read; checked before any byte is sent, so a
    mistake is a 400, not an empty stream."""

    stdout: bool = query.flag()
    stderr: bool = query.flag()
    follow: bool = query.flag()
    timestamps: bool = query.flag()
    details: bool = query.flag()
    tail: int | None = query.tail_lines()
    since: float | None = query.moment()
    until: float | None = query.moment()

    @property
    def streams(self) -> frozenset[str]:
        chosen = frozenset(s for s in ("stdout", "stderr") if getattr(self, s))
        return chosen or frozenset({"stdout", "stderr"})


def _log_stream(engine: Engine, c: Container, files: LogFiles, q: LogsQuery) -> Iterator[bytes]:
    """The log as the API sends it, one chunk per batch read (not per line: a big log
    streams at disk speed, in bounded memory)."""

    def stopped() -> bool:
        try:
            return not engine.containers.get(c.id).state.running
        except NotFound:
            return True

    batches = read_batches(
        files.path,
        max_files=files.max_files,
        since=q.since,
        until=q.until,
        tail=q.tail,
        follow=q.follow,
        stop=stopped,
    )
    # Docker puts the attributes before the line (lamina writes none), the time first.
    prefix = " " if q.details else ""
    for batch in batches:
        chunk = bytearray()
        for entry in batch:
            if entry.stream not in q.streams:
                continue
            data = ((entry.time + " " if q.timestamps else "") + prefix + entry.text).encode()
            chunk += (
                data
                if c.tty
                else encode_frame(STDERR if entry.stream == "stderr" else STDOUT, data)
            )
        if chunk:
            yield bytes(chunk)


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
