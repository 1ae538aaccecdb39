"""A small HTTP/1.1 server on a unix socket, shaped for the Docker Engine API.

Why not a framework: the API needs three things frameworks make awkward together —
plain request/response, long chunked streams (build, pull, logs -f), and hijacking the
connection to a raw bidirectional stream (attach, exec). See docs/dependencies.md.

How a connection is served, in bounded resources (docs/api-limits.md):
- the reactor (lamina.api.reactor) holds connections between requests and reads request
  heads, and small bodies, without a thread per connection;
- a complete request goes to a request thread (lamina.api.workers), which runs the
  handler and writes the answer. A request thread never waits on a client: a request
  whose body is not all in memory yet (a large or chunked one: a tar, or a JSON body
  over the reactor's PREBUFFER) claims a stream slot first, as a stream or hijack
  does. A JSON body must come whole within BODY_TIMEOUT; a tar, which is unpacked as
  it comes, within BODY_TIMEOUT of each receive;
- an answer waits at most SEND_TIMEOUT for a client that does not read;
- a keep-alive connection whose request body was read whole goes back to the reactor.

Handlers get a `Request` and return a `Response` (or plain JSON data). Routing, version
prefixes and error mapping live in `lamina.api.router`.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from typing import Any, BinaryIO, cast
from urllib.parse import parse_qs, urlsplit

from lamina.api.bodies import Body, ChunkedBody, Connection, LengthBody, NoBody, timeval
from lamina.api.limits import Limits, nofile
from lamina.api.reactor import Head, Reactor
from lamina.api.streams import peer_closed
from lamina.api.wire import read_json_body
from lamina.api.workers import StreamsExhausted, Workers
from lamina.errors import InvalidArgument

JSON = "application/json"
BODY_TIMEOUT = 60  # seconds for a JSON body, and between two receives of a tar body
# Seconds an answer may wait for the client to read (its socket buffer full): past
# that the client is taken as gone, so one that stops reading frees its thread or slot.
SEND_TIMEOUT = 60
_DRAIN = 64 << 10  # unread body a keep-alive connection skips rather than closes


@dataclass
class Response:
    status: int = 200
    body: bytes | Iterable[bytes] = b""
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, data: Any, status: int = 200) -> Response:
        return cls(status, json.dumps(data).encode() + b"\n")

    @classmethod
    def stream(cls, chunks: Iterable[bytes], content_type: str = JSON) -> Response:
        return cls(200, chunks, content_type)


class Stream:
    """A streamed answer's chunks, and what must be done once it ends however it ends:
    read to its end, left midway (the client went), or never begun (a 503, a client
    gone before the first byte). The server closes every stream it is handed; `cleanup`
    runs once, after the chunks' own close (a generator's finally)."""

    def __init__(self, chunks: Iterable[bytes], *, cleanup: Callable[[], None]) -> None:
        self._chunks = iter(chunks)
        self._cleanup: Callable[[], None] | None = cleanup

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        return next(self._chunks)

    def close(self) -> None:
        cleanup, self._cleanup = self._cleanup, None
        try:
            _close_iterator(self._chunks)
        finally:
            if cleanup is not None:
                cleanup()


# A handler that took over the connection (Request.hijack) returns this.
HIJACKED = Response(status=101)


class Request:
    def __init__(self, conn: Connection, head: Head, server: Server) -> None:
        self._conn = conn
        self._server = server
        url = urlsplit(head.target)
        self.method = head.method
        self.path = url.path
        self.query = parse_qs(url.query, keep_blank_values=True)
        self.headers = head
        self.api_version = ""
        self.reader: Body = _body_of(conn, head)
        self.body = cast(BinaryIO, self.reader)  # what tar readers and ingest take
        self.hijacked = False

    def json(self) -> Any:
        """The JSON body (None when empty): capped, strict UTF-8 and JSON (lamina.api.wire),
        all of it within BODY_TIMEOUT."""
        self._conn.deadline = self._conn.deadline or time.monotonic() + BODY_TIMEOUT
        return read_json_body(self.body)

    def claim_stream(self) -> None:
        """Count this request as a long stream from now on (see lamina.api.workers);
        Unavailable (503) when the daemon serves as many streams as it may."""
        self._server.workers.claim_stream()

    def client_gone(self) -> bool:
        """Whether the client has closed the connection (not merely its sending side):
        lets a long stream (logs -f, wait, a build) stop work nobody waits for."""
        return peer_closed(self._conn.sock)

    def hijack(self, content_type: str = "application/vnd.docker.raw-stream") -> socket.socket:
        """Switch the connection to a raw stream (Docker's attach/exec protocol)."""
        self.claim_stream()
        upgrade = "upgrade" in self.headers.get("connection").lower()
        status = "101 UPGRADED" if upgrade else "200 OK"
        head = f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
        if upgrade:
            head += "Connection: Upgrade\r\nUpgrade: tcp\r\n"
        sock = self._conn.sock
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval(0))
        sock.sendall((head + "\r\n").encode())
        self.hijacked = True
        return sock


Dispatch = Callable[[Request], Response]


@dataclass
class _Exchange:
    sock: socket.socket
    head: Head
    buffered: bytes


class Server:
    """Serves `dispatch` on the unix socket `path` until shutdown()."""

    def __init__(
        self,
        path: str,
        dispatch: Dispatch,
        *,
        common_headers: dict[str, str],
        log: Callable[[str], None],
        limits: Limits | None = None,
    ) -> None:
        """`limits` default to what the process's RLIMIT_NOFILE allows (lamina.api.limits)."""
        self.dispatch = dispatch
        self.common_headers = common_headers
        self.log = log
        self.limits = limits or Limits.for_descriptors(nofile())
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(socket.SOMAXCONN)  # a burst of connects waits, not fails
        self.workers: Workers[_Exchange] = Workers(
            self._serve, requests=self.limits.requests, streams=self.limits.streams
        )
        self.reactor = Reactor(self.listener, self._ready, max_parked=self.limits.parked)

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        self.reactor.run(poll_interval)

    def shutdown(self) -> None:
        self.reactor.stop()

    def server_close(self) -> None:
        self.listener.close()
        self.reactor.close()

    def _ready(self, sock: socket.socket, head: Head, buffered: bytes) -> None:
        if self.workers.pending >= self.limits.parked:
            # Queued requests hold descriptors as waiting connections do: as many may
            # wait for a thread as may wait in the reactor, and no more.
            _answer_busy(sock)
            return
        self.workers.submit(_Exchange(sock, head, buffered))

    def _serve(self, ex: _Exchange) -> None:
        ex.sock.setblocking(True)
        ex.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval(BODY_TIMEOUT))
        ex.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval(SEND_TIMEOUT))
        conn = Connection(ex.sock, ex.buffered)
        keep = False
        try:
            keep = self._exchange(conn, ex.head)
        except OSError:  # the client went away mid-answer
            keep = False
        if keep:
            self.reactor.park(ex.sock, bytes(conn.buffer))
        else:
            with contextlib.suppress(OSError):
                ex.sock.close()

    def _exchange(self, conn: Connection, head: Head) -> bool:
        """Serve one request; whether the connection can carry the next one."""
        request = Request(conn, head, self)
        if not request.reader.buffered():
            try:
                request.claim_stream()  # the body comes at the client's pace
            except StreamsExhausted as err:
                busy = Response.json({"message": str(err)}, 503)
                _write(conn.sock, head, busy, self.common_headers, keep=False)
                return False
            if head.get("expect").lower() == "100-continue":
                conn.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        response = self.dispatch(request)
        if request.hijacked:
            return False
        if not isinstance(response.body, bytes):
            try:
                request.claim_stream()
            except StreamsExhausted as err:
                _close_iterator(response.body)
                response = Response.json({"message": str(err)}, 503)
        if isinstance(response.body, bytes):
            keep = head.keep_alive and _skip_rest(request.reader)
        else:  # a stream may still be reading the body (import): never skip under it
            keep = head.keep_alive and request.reader.finished()
        _write(conn.sock, head, response, self.common_headers, keep=keep)
        self.log(f'"{head.method} {head.target[:200]} {head.version}" {response.status} -')
        return keep


def _answer_busy(sock: socket.socket) -> None:
    body = b'{"message": "the daemon has too many requests waiting; retry"}\n'
    head = (
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    with contextlib.suppress(OSError):
        sock.send(head.encode() + body)  # the socket does not block: what fits, or nothing
    sock.close()


def _body_of(conn: Connection, head: Head) -> Body:
    if head.chunked:
        return ChunkedBody(conn)
    return LengthBody(conn, head.length) if head.length else NoBody()


def _skip_rest(body: Body) -> bool:
    """Read what the handler left of a small body, so keep-alive stays in step; a body
    with more left, or a broken one, closes the connection instead."""
    if body.finished():
        return True
    if not body.buffered():
        return False  # never wait on the client for bytes nobody wants
    try:
        skipped = 0
        while not body.finished() and skipped <= _DRAIN:
            data = body.read(_DRAIN)
            if not data:
                break
            skipped += len(data)
        return body.finished()
    except (InvalidArgument, OSError):
        return False


def _write(
    sock: socket.socket, head: Head, response: Response, common: dict[str, str], *, keep: bool
) -> None:
    status = response.status
    lines = [
        f"HTTP/1.1 {status} {_reason(status)}",
        f"Content-Type: {response.content_type}",
        f"Date: {formatdate(time.time(), usegmt=True)}",
        *(f"{k}: {v}" for k, v in {**common, **response.headers}.items()),
    ]
    if not keep:
        lines.append("Connection: close")
    body = response.body
    if isinstance(body, bytes):
        if status >= 200 and status not in (204, 304):
            lines.append(f"Content-Length: {len(body)}")
        sock.sendall(
            "\r\n".join([*lines, "", ""]).encode() + (b"" if head.method == "HEAD" else body)
        )
        return
    lines.append("Transfer-Encoding: chunked")
    try:  # closed however it ends: a stream cleans up even if it never began
        sock.sendall("\r\n".join([*lines, "", ""]).encode())
        for chunk in body:
            if chunk:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        sock.sendall(b"0\r\n\r\n")
    finally:
        _close_iterator(body)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Client Closed Request" if status == 499 else ""  # nginx's; not in HTTPStatus


def _close_iterator(body: Iterable[bytes]) -> None:
    close = getattr(body, "close", None)
    if close is not None:
        close()


def json_lines(items: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    for item in items:
        yield json.dumps(item).encode() + b"\r\n"
