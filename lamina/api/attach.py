"""`POST /containers/{id}/attach`: the container's stdio over a hijacked connection.

The daemon joins the client's connection to the container's monitor (lamina.api.streams)
and copies bytes; the monitor speaks Docker's wire format. `docker run` and `start -a`
attach *before* they start the container: such an attach waits for the start, which
connects it before the process runs (lamina.containers.attaching), so no output is
missed.

Whatever the client does, the attach ends within a poll of its leaving: while it waits
for a start, while logs replay, and while the process is silent.
"""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass, replace

from lamina.api import query
from lamina.api.container_logs import MULTIPLEXED, RAW, LogsQuery, log_stream
from lamina.api.http import HIJACKED, Request, Response
from lamina.api.router import Router
from lamina.api.streams import peer_closed, splice
from lamina.containers.attaching import PendingAttach
from lamina.containers.logplace import LogFiles
from lamina.containers.model import Container
from lamina.containers.monitor.stdio import AttachRequest
from lamina.engine import Engine


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
        replay = (engine.containers.log_files(c), logs) if logs is not None else None
        # Register for the live stream before answering: the client starts the
        # container as soon as it has our answer, and must not miss its first output.
        live = engine.containers.attach(c.id, request) if q.stream else None
        client = req.hijack(RAW if c.tty else MULTIPLEXED)
        try:
            upstream = _replay_then_connect(engine, c, client, replay, live)
            if upstream is None:
                _abandon(live)
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
    live: socket.socket | PendingAttach | None,
) -> socket.socket | None:
    """Send the log (logs=1), then the monitor connection to splice; None when there is
    none, or the client left (or stopped reading) meanwhile."""
    try:
        if replay is not None:
            gone = lambda: peer_closed(client)  # noqa: E731
            for chunk in log_stream(engine, c, *replay, client_gone=gone):
                client.sendall(chunk)
        if isinstance(live, PendingAttach):
            return live.wait(lambda: peer_closed(client))
        return live
    except OSError:  # the client left, or read nothing for the send timeout
        return None


def _abandon(live: socket.socket | PendingAttach | None) -> None:
    """Let go of an attach nobody reads: its monitor connection, or its pending one."""
    if isinstance(live, PendingAttach):
        live.abandon()
    elif live is not None:
        live.close()
