"""`POST /build` (Docker's, with a tar context) and `POST /lamina/build` (a local folder).

Both check the request and plan the build before answering, so a malformed
Dockerfile, an unknown base image or a bad tag is an HTTP error (400/404) and nothing
is built. Then the build runs in a thread and its events stream back as JSON lines:
Docker's classic messages for `/build` (what `DOCKER_BUILDKIT=0 docker build` and
docker-py read), lamina's own events for `/lamina/build` (what `lamina build` renders).

`/lamina/build?context=/abs/path&dockerfile=/abs/path/Dockerfile` is for a client on the
daemon's host: nothing is streamed, the daemon reads the folder in place, so the stat
cache makes an unchanged context cheap. Anyone who can reach the socket can make the
daemon read any folder; the socket is root's, as Docker's is.

A client that goes away (Ctrl-C) cancels the build; the handler waits for the build
to clean up before it returns.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from lamina.api import query
from lamina.api.errors import stream_error
from lamina.api.http import Request, Response, Stream, json_lines
from lamina.api.router import Router
from lamina.build.builder import Builder
from lamina.build.context.folder import clean_relpath
from lamina.build.context.tar import extract_context, remove_context
from lamina.build.plan import BuildPlan, BuildRequest, automatic_args
from lamina.build.progress.classic import ClassicMessages
from lamina.build.progress.events import Event
from lamina.engine import Engine
from lamina.errors import InvalidArgument, LaminaError
from lamina.labels import check_labels

_NO_LIMITS = "RUN steps run without resource limits"
_POLL = 0.25  # seconds between checks that the client is still there
# networkmode → RUN's default network; "bridge" is Docker's default and means ours.
_NETWORKS = {
    "": "default",
    "default": "default",
    "bridge": "default",
    "host": "host",
    "none": "none",
}


@dataclass(frozen=True)
class BuildQuery:
    """What `/build` and `/lamina/build` read of their query."""

    remote: str = query.text()
    context: str = query.text()  # /lamina/build: a folder on the daemon's host
    dockerfile: str = query.text()
    t: tuple[str, ...] = query.texts()
    q: bool = query.flag()
    platform: str = query.text()
    networkmode: str = query.text()
    buildargs: Mapping[str, str] = query.json_map()
    labels: Mapping[str, str] = query.json_map()
    target: str = query.text()
    nocache: bool = query.flag()
    nocachefilter: tuple[str, ...] = query.texts()
    pull: bool = query.flag()
    explain: bool = query.flag()
    # lamina keeps no intermediate containers, so rm and forcerm are what it always
    # does, whatever their value (BuildKit ignores them too). What it cannot honour:
    memory: None = query.unsupported(_NO_LIMITS)
    memswap: None = query.unsupported(_NO_LIMITS)
    cpushares: None = query.unsupported(_NO_LIMITS)
    cpusetcpus: None = query.unsupported(_NO_LIMITS)
    cpusetmems: None = query.unsupported(_NO_LIMITS)
    cpuperiod: None = query.unsupported(_NO_LIMITS)
    cpuquota: None = query.unsupported(_NO_LIMITS)
    shmsize: None = query.unsupported(_NO_LIMITS)
    cgroupparent: None = query.unsupported(_NO_LIMITS)
    ulimits: None = query.unsupported(_NO_LIMITS)
    isolation: None = query.unsupported("Linux has one isolation", harmless=("default",))
    extrahosts: None = query.unsupported("RUN steps see the host's /etc/hosts")
    cachefrom: None = query.unsupported("the cache is the daemon's own; no import from images")
    outputs: None = query.unsupported("a build's result is an image in this daemon")
    squash: None = query.unsupported("layers are kept as built")
    session: None = query.unsupported("BuildKit sessions are not served: use DOCKER_BUILDKIT=0")
    version: None = query.unsupported(
        "BuildKit's protocol is not served: use DOCKER_BUILDKIT=0", harmless=("1",)
    )


def register(router: Router, engine: Engine) -> None:
    builder: Builder = engine.builder

    @router.route("POST", "/build")
    def build(req: Request) -> Response:
        q = _build_query(req)
        if q.remote:
            raise InvalidArgument("remote build contexts are not supported; send a tar")
        # A slot before the context is read: a 503 then leaves nothing to clean up.
        req.claim_stream()
        folder = extract_context(req.body, builder.root / "contexts")
        cleanup = _Once(lambda: remove_context(folder))
        try:
            rel = clean_relpath(q.dockerfile or "Dockerfile")
            name = q.t[0] if q.t else "tar"
            request = _request(q, folder, folder / rel, site=f"tar:{name}/{rel}")
            request = dataclasses.replace(request, transient=True)
            plan = builder.prepare(request)
        except BaseException:
            cleanup()
            raise
        convert = ClassicMessages(quiet=q.q).convert
        # The build removes its context before its last event; the stream does, if the
        # build never ran (the client left before the first byte).
        events = _run(req, builder, plan, cleanup=cleanup)
        lines = json_lines(m for e in events for m in convert(e))
        return Response.stream(Stream(lines, cleanup=cleanup))

    @router.route("POST", "/lamina/build")
    def build_local(req: Request) -> Response:
        q = _build_query(req)
        context = Path(q.context)
        if not context.is_absolute():
            raise InvalidArgument("context must be an absolute path on the daemon's host")
        dockerfile = Path(q.dockerfile or "Dockerfile")
        request = _request(q, context, context / dockerfile, site="")
        return Response.stream(json_lines(_run(req, builder, builder.prepare(request))))


class _Once:
    """`action`, done the first time this is called only."""

    def __init__(self, action: Callable[[], None]) -> None:
        self._action: Callable[[], None] | None = action
        self._lock = threading.Lock()

    def __call__(self) -> None:
        with self._lock:
            action, self._action = self._action, None
        if action is not None:
            action()


def _build_query(req: Request) -> BuildQuery:
    q = query.decode(req, BuildQuery)
    check_labels(q.labels, "labels")
    return q


def _request(q: BuildQuery, context: Path, dockerfile: Path, *, site: str) -> BuildRequest:
    platform = q.platform
    if platform and platform not in _host_platforms():
        raise InvalidArgument(
            f"platform {platform!r} is not this host's; cross builds are not supported"
        )
    network = q.networkmode
    if network not in _NETWORKS:
        raise InvalidArgument(f"network mode {network!r} is not supported for builds")
    return BuildRequest(
        context=context,
        dockerfile=dockerfile,
        tags=q.t,
        build_args=dict(q.buildargs),
        target=q.target,
        no_cache=q.nocache,
        no_cache_filter=tuple(f for v in q.nocachefilter for f in v.split(",") if f),
        labels=dict(q.labels),
        pull=q.pull,
        platform=platform,
        network=_NETWORKS[network],
        explain=q.explain,
        site=site,
    )


def _host_platforms() -> set[str]:
    spec = automatic_args()["TARGETPLATFORM"]
    return {spec, spec.split("/")[0], "/".join(spec.split("/")[:2])}


def _run(
    req: Request,
    builder: Builder,
    plan: BuildPlan,
    *,
    cleanup: Callable[[], None] = lambda: None,
) -> Iterator[Event]:
    """Run the build in a thread; yield its events, then an error if it failed."""
    events: queue.Queue[Event | None] = queue.Queue()
    cancel = threading.Event()

    def work() -> None:
        try:
            builder.build(plan, events.put, cancel=cancel)
        except LaminaError as err:
            events.put(stream_error(err))
        except Exception as err:  # reported to the client; the stream has begun
            events.put(stream_error(err))
            raise
        finally:
            cleanup()
            events.put(None)

    thread = threading.Thread(target=work, name="build", daemon=True)
    thread.start()
    try:
        yield from _drain(req, events, cancel)
    finally:
        cancel.set()  # a no-op after a finished build; stops one the client left
        thread.join()


def _drain(
    req: Request, events: queue.Queue[Event | None], cancel: threading.Event
) -> Iterator[Event]:
    while True:
        try:
            event = events.get(timeout=_POLL)
        except queue.Empty:
            if not cancel.is_set() and req.client_gone():
                cancel.set()
            continue
        if event is None:
            return
        yield event
