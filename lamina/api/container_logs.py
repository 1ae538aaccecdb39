"""`GET /containers/{id}/logs`, and the log as attach's `logs=1` replays it.

The log is read in batches in bounded memory (lamina.containers.monitor.logs.reader)
and sent one chunk per batch, framed as Docker frames it (multiplexed without a TTY, raw
with one). A follower ends when the container stops or the client leaves, whichever first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from lamina.api import query
from lamina.api.http import Request, Response
from lamina.api.router import Router
from lamina.containers.logplace import LogFiles
from lamina.containers.model import Container
from lamina.containers.monitor.logs.reader import read_batches
from lamina.containers.monitor.stdio import STDERR, STDOUT, encode_frame
from lamina.engine import Engine
from lamina.errors import InvalidArgument, NotFound

RAW = "application/vnd.docker.raw-stream"
MULTIPLEXED = "application/vnd.docker.multiplexed-stream"


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


def register(router: Router, engine: Engine) -> None:
    @router.route("GET", "/containers/{ref}/logs")
    def logs(req: Request, ref: str) -> Response:
        c = engine.containers.get(ref)
        q = query.decode(req, LogsQuery)
        if not (q.stdout or q.stderr):
            raise InvalidArgument("Bad parameters: you must choose at least one stream")
        files = engine.containers.log_files(c)
        chunks = log_stream(engine, c, files, q, client_gone=req.client_gone)
        return Response.stream(chunks, RAW if c.tty else MULTIPLEXED)


def log_stream(
    engine: Engine,
    c: Container,
    files: LogFiles,
    q: LogsQuery,
    *,
    client_gone: Callable[[], bool] = lambda: False,
) -> Iterator[bytes]:
    """The log as the API sends it, one chunk per batch read (not per line: a big log
    streams at disk speed, in bounded memory). A follower looks at the container and
    the client every poll while the log is quiet, so one whose client left ends within
    a poll, not at the next line the container writes (which may never come)."""

    def stopped() -> bool:
        if client_gone():
            return True
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
