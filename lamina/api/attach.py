"""`POST /containers/{id}/attach`: the container's stdio over a hijacked connection.

The daemon joins the client's connection to the container's monitor (lamina.api.streams)
and copies bytes; the monitor speaks Docker's wire format. `docker run` and `start -a`
attach *before* they start the container: such an attach waits for the start, which
connects it before the process runs (`_AttachAtStart`), so no output is missed.

Whatever the client does, the attach ends within a poll of its leaving: while it waits
for a start, while logs replay, and while the process is silent.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass, replace

from lamina.api import query
from lamina.api.container_logs import MULTIPLEXED, RAW, LogsQuery, log_files, log_stream
from lamina.api.http import HIJACKED, Request, Response
from lamina.api.router import Router
from lamina.api.streams import peer_closed, splice
from lamina.containers.logplace import LogFiles
from lamina.containers.model import Container, Status
from lamina.containers.monitor import client as monitor
from lamina.containers.monitor.state import State as MonitorState
from lamina.containers.monitor.state import Status as MonitorStatus
from lamina.containers.monitor.stdio import AttachRequest
from lamina.engine import Engine
from lamina.errors import NotFound

POLL = 0.5  # seconds between looks at a client that waits for its container's start


@dataclass(frozen=True)
class AttachQuery:
    stdin: bool = query.flag()
    stdout: bool = query.flag()
    stderr: bool = query.flag()
    logs: bool = query.flag()
    stream: bool = query.flag()


def register(router: Router, engine: Engine) -> None:
    @router.route("POST", "/containers/{ref}/attach")
    def attach(req: Request, ref: str) -> Response:
        q = query.decode(req, AttachQuery)
        c = engine.containers.get(ref)
        req.claim_stream()  # before the attach is registered: a 503 leaves nothing behind
        request = AttachRequest(stdin=q.stdin, stdout=q.stdout, stderr=q.stderr, logs=q.logs)
        logs = replace(query.decode(req, LogsQuery), follow=False) if request.logs else None
        # Before the answer: a driver that keeps no log is Docker's 501, not a cut stream.
        replay = (log_files(engine, c), logs) if logs is not None else None
        # Register for the live stream before answering: the client starts the
        # container as soon as it has our answer, and must not miss its first output.
        live = _prepare_attach(engine, c, request) if q.stream else None
        client = req.hijack(RAW if c.tty else MULTIPLEXED)
        try:
            upstream = _replay_then_connect(engine, c, client, replay, live)
            if upstream is None:
                _abandon(engine, c.id, live)
            else:
                splice(client, upstream, stdin=request.stdin)
        finally:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
        return HIJACKED


def _replay_then_connect(
    engine: Engine,
    c: Container,
    client: socket.socket,
    replay: tuple[LogFiles, LogsQuery] | None,
    live: socket.socket | _AttachAtStart | None,
) -> socket.socket | None:
    """Send the log (logs=1), then the monitor connection to splice; None when there is
    none, or the client left (or stopped reading) meanwhile."""
    try:
        if replay is not None:
            gone = lambda: peer_closed(client)  # noqa: E731
            for chunk in log_stream(engine, c, *replay, client_gone=gone):
                client.sendall(chunk)
        if isinstance(live, _AttachAtStart):
            return live.wait(client)
        return live
    except OSError:  # the client left, or read nothing for the send timeout
        return None


def _prepare_attach(
    engine: Engine, c: Container, request: AttachRequest
) -> socket.socket | _AttachAtStart | None:
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


def _abandon(engine: Engine, cid: str, live: socket.socket | _AttachAtStart | None) -> None:
    """Let go of an attach nobody reads: its monitor connection, or its start hook (and
    the connection a start made for it meanwhile)."""
    if isinstance(live, _AttachAtStart):
        with engine.containers.lock:  # a start running its hooks finishes them first
            hooks = engine.containers.attach_hooks.get(cid, [])
            if live.hook in hooks:
                hooks.remove(live.hook)
        live = live.sock
    if live is not None:
        live.close()


class _AttachAtStart:
    """An attach to a container not running yet, connected by its start."""

    def __init__(self, engine: Engine, cid: str, request: AttachRequest) -> None:
        self.engine = engine
        self.cid = cid
        self.request = request
        self.ready = threading.Event()
        self.sock: socket.socket | None = None

    def hook(self, state: MonitorState) -> None:
        """Called by start, after the monitor is up and before the process starts."""
        if state.status != MonitorStatus.CREATE_FAILED:
            files = self.engine.containers.runner.files(self.cid)
            self.sock = monitor.attach(files, self.request)
        self.ready.set()

    def wait(self, client: socket.socket) -> socket.socket | None:
        """The monitor connection once the container starts; None if it is removed
        first, or the client leaves first (looked at every POLL seconds)."""
        while not self.ready.wait(POLL):
            if peer_closed(client):
                return None
            try:
                self.engine.containers.get(self.cid)
            except NotFound:
                return None
        return self.sock
