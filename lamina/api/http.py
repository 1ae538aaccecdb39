"""A small HTTP/1.1 server on a unix socket, shaped for the Docker Engine API.

Why not a framework: the API needs three things frameworks make awkward together —
plain request/response, long chunked streams (build, pull, logs -f), and hijacking the
connection to a raw bidirectional stream (attach, exec). The standard library's
`http.server` gives us the parsing and one thread per connection; streams and hijack
are a few lines on top. See docs/dependencies.md.

Handlers get a `Request` and return a `Response` (or plain JSON data). Routing, version
prefixes and error mapping live in `lamina.api.router`.
"""

from __future__ import annotations

import io
import json
import socket
import socketserver
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, BinaryIO
from urllib.parse import parse_qs, urlsplit

from lamina.errors import InvalidArgument

JSON = "application/json"


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


# A handler that took over the connection (Request.hijack) returns this.
HIJACKED = Response(status=101)


class Request:
    def __init__(self, handler: _Handler, method: str, path: str, query: str) -> None:
        self._handler = handler
        self.method = method
        self.path = path
        self.query = parse_qs(query, keep_blank_values=True)
        self.headers = handler.headers
        self.api_version = ""
        self.body: BinaryIO = _body_reader(handler)

    def arg(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[-1] if values else default

    def args(self, name: str) -> list[str]:
        return self.query.get(name, [])

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.arg(name)
        if not value:
            return default
        return value.lower() in ("1", "true", "yes")

    def int_arg(self, name: str, default: int) -> int:
        value = self.arg(name)
        try:
            return int(value) if value else default
        except ValueError as err:
            raise InvalidArgument(f"invalid value for {name}: {value!r}") from err

    def json_arg(self, name: str) -> Any:
        value = self.arg(name)
        if not value:
            return None
        try:
            return json.loads(value)
        except json.JSONDecodeError as err:
            raise InvalidArgument(f"invalid JSON in parameter {name}: {err}") from err

    def json(self) -> Any:
        data = self.body.read()
        if not data.strip():
            return None
        try:
            return json.loads(data)
        except json.JSONDecodeError as err:
            raise InvalidArgument(f"invalid JSON body: {err}") from err

    def client_gone(self) -> bool:
        """Whether the client has closed the connection: lets a long stream (a build)
        stop work nobody waits for. Meaningful once the request body has been read."""
        conn: socket.socket = self._handler.connection
        try:
            return conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            return True

    def hijack(self, content_type: str = "application/vnd.docker.raw-stream") -> socket.socket:
        """Switch the connection to a raw stream (Docker's attach/exec protocol)."""
        upgrade = "Upgrade" in (self.headers.get("Connection") or "")
        status = "101 UPGRADED" if upgrade else "200 OK"
        head = f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
        if upgrade:
            head += "Connection: Upgrade\r\nUpgrade: tcp\r\n"
        self._handler.wfile.write((head + "\r\n").encode())
        self._handler.wfile.flush()
        self._handler.close_connection = True
        conn: socket.socket = self._handler.connection
        return conn


Dispatch = Callable[[Request], Response]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def _serve(self) -> None:
        url = urlsplit(self.path)
        request = Request(self, self.command, url.path, url.query)
        response = self.server.dispatch(request)
        if response is HIJACKED:
            return
        self._send(response)
        request.body.read()  # drain what the handler left, so keep-alive stays in step

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        for key, value in {**self.server.common_headers, **response.headers}.items():
            self.send_header(key, value)
        if isinstance(response.body, bytes):
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for chunk in response.body:
            if chunk:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, format: str, *args: Any) -> None:
        self.server.log(format % args)

    def address_string(self) -> str:
        return "unix"


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    # Connections that stream (logs -f, build) can be many; a thread each is fine here.
    request_queue_size = 128

    def __init__(
        self,
        path: str,
        dispatch: Dispatch,
        *,
        common_headers: dict[str, str],
        log: Callable[[str], None],
    ) -> None:
        self.dispatch = dispatch
        self.common_headers = common_headers
        self.log = log
        super().__init__(path, _Handler)


class _ChunkedReader:
    """Decodes a chunked request body (the docker CLI streams tars this way)."""

    def __init__(self, rfile: io.BufferedIOBase) -> None:
        self._rfile = rfile
        self._left = 0
        self._done = False

    def read(self, size: int = -1) -> bytes:
        out = bytearray()
        while not self._done and (size < 0 or len(out) < size):
            if self._left == 0 and not self._next_chunk():
                break
            want = self._left if size < 0 else min(self._left, size - len(out))
            data = self._rfile.read(want)
            if not data:
                raise InvalidArgument("request body ended inside a chunk")
            out += data
            self._left -= len(data)
            if self._left == 0:
                self._rfile.readline()
        return bytes(out)

    def _next_chunk(self) -> bool:
        line = self._rfile.readline()
        try:
            self._left = int(line.split(b";")[0].strip() or b"0", 16)
        except ValueError as err:
            raise InvalidArgument(f"bad chunk size line {line!r}") from err
        if self._left == 0:
            while self._rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            self._done = True
            return False
        return True


class _LengthReader:
    def __init__(self, rfile: io.BufferedIOBase, length: int) -> None:
        self._rfile = rfile
        self._left = length

    def read(self, size: int = -1) -> bytes:
        want = self._left if size < 0 else min(size, self._left)
        data = self._rfile.read(want) if want else b""
        self._left -= len(data)
        return data


def _body_reader(handler: _Handler) -> BinaryIO:
    if "chunked" in (handler.headers.get("Transfer-Encoding") or "").lower():
        return _ChunkedReader(handler.rfile)  # type: ignore[return-value]
    length = int(handler.headers.get("Content-Length") or 0)
    return _LengthReader(handler.rfile, length)  # type: ignore[return-value]


def json_lines(items: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    for item in items:
        yield json.dumps(item).encode() + b"\r\n"
