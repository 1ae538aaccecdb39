"""A minimal Docker Engine API client over a unix socket, for the CLI.

Hand-written on `socket` rather than `http.client` because the CLI's start-up time is
a feature (http.client pulls in the email package) and because attach/exec will need
the raw connection after the response head anyway.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Iterator

from lamina.config import Paths

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing and urllib.parse would cost every command ~5 ms to import
    from typing import Any, BinaryIO

API_PREFIX = "/v1.45"
_AUTOSTART_WAIT = 20.0


class DaemonError(Exception):
    """The daemon answered with an error status; `str()` is its message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class NoDaemon(Exception):
    pass


class ConnectionLost(Exception):
    """The daemon closed the connection before its answer was complete: it stopped or
    was killed midway, so whatever was asked may not have happened."""


class Reply:
    def __init__(
        self, sock: socket.socket, status: int, headers: dict[str, str], reader: BinaryIO
    ) -> None:
        self.sock = sock
        self.status = status
        self.headers = headers
        self._reader = reader
        self._chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        self._length = int(headers.get("content-length", "-1"))

    def head_only(self) -> None:
        """A reply to HEAD has headers only, whatever Content-Length says."""
        self._chunked = False
        self._length = 0

    def chunks(self) -> Iterator[bytes]:
        """The body's pieces; ConnectionLost if it ends before its end (the last chunk
        of a chunked body, or Content-Length bytes)."""
        if self._chunked:
            while True:
                line = self._readline()
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self._readline()  # the empty trailer
                    return
                yield self._read(size)
                self._readline()
        elif self._length >= 0:
            yield self._read(self._length)
        else:
            while data := self._read(65536, exact=False):
                yield data

    def _readline(self) -> bytes:
        line = self._read(-1)
        if not line.endswith(b"\n"):
            raise ConnectionLost("the daemon closed the stream before it ended")
        return line

    def _read(self, size: int, *, exact: bool = True) -> bytes:
        try:
            data = self._reader.readline() if size < 0 else self._reader.read(size)
        except OSError as err:  # reset by a daemon that went away
            raise ConnectionLost("the daemon closed the stream before it ended") from err
        if exact and size >= 0 and len(data) < size:
            raise ConnectionLost("the daemon closed the stream before it ended")
        return data

    def read(self) -> bytes:
        return b"".join(self.chunks())

    def json(self) -> Any:
        return json.loads(self.read() or b"null")

    def lines(self) -> Iterator[dict[str, Any]]:
        """Decode a stream of JSON messages (one per line, as Docker sends them)."""
        buffer = b""
        for chunk in self.chunks():
            buffer += chunk
            *complete, buffer = buffer.split(b"\n")
            for line in complete:
                if line.strip():
                    yield json.loads(line)
        if buffer.strip():
            yield json.loads(buffer)

    def close(self) -> None:
        self.sock.close()


class Client:
    def __init__(self, paths: Paths, *, autostart: bool = True) -> None:
        self.paths = paths
        self.autostart = autostart and not os.environ.get("LAMINA_NO_AUTOSTART")

    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: bytes | BinaryIO | None = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """Send one request; raise DaemonError for a 4xx/5xx reply."""
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers = {"Content-Type": "application/json", **(headers or {})}
        sock = self._connect()
        target = API_PREFIX + quote(path, safe="/:@")
        if query:
            target += "?" + urlencode(query)
        # contextlib.suppress would cost the CLI an import.
        try:  # noqa: SIM105
            _send(sock, method, target, body, headers or {})
        except OSError:
            pass  # the daemon may have answered early (a refusal) and closed: read on
        reply = _read_head(sock)
        if method == "HEAD":
            reply.head_only()
        if reply.status >= 400:
            message = _error_message(reply)
            reply.close()
            raise DaemonError(reply.status, message)
        return reply

    def get_json(self, path: str, **query: Any) -> Any:
        return self.call("GET", path, query=query or None)

    def call(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        json_body: Any = None,
    ) -> Any:
        """One request whose whole answer is JSON (None for an empty one): decoded, and
        the connection closed whatever happens."""
        reply = self.request(method, path, query=query, json_body=json_body)
        try:
            return reply.json()
        finally:
            reply.close()

    def _connect(self) -> socket.socket:
        try:
            return _dial(self.paths.socket_file)
        except (FileNotFoundError, ConnectionRefusedError):
            if not self.autostart:
                raise NoDaemon(self._no_daemon()) from None
        return self._start_daemon()

    def _start_daemon(self) -> socket.socket:
        import subprocess  # only when starting the daemon: it is slow to import

        from lamina import private

        # The daemon makes its root private too; its log must be private from the start.
        os.makedirs(self.paths.root, mode=private.ROOT_MODE, exist_ok=True)
        with private.open_append(self.paths.log_file) as log:
            subprocess.Popen(
                [sys.executable, "-m", "lamina", "daemon"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                env={
                    **os.environ,
                    "LAMINA_ROOT": str(self.paths.root),
                    "LAMINA_HOST": self.paths.host,
                },
            )
        deadline = time.monotonic() + _AUTOSTART_WAIT
        while time.monotonic() < deadline:
            try:
                return _dial(self.paths.socket_file)
            except (FileNotFoundError, ConnectionRefusedError):
                time.sleep(0.02)
        raise NoDaemon(self._no_daemon() + f" (it did not start: see {self.paths.log_file})")

    def _no_daemon(self) -> str:
        return f"Cannot connect to the lamina daemon at {self.paths.host}. Is the daemon running?"


_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")


def quote(text: str, safe: str = "") -> str:
    """Percent-encode `text` as UTF-8, keeping unreserved characters and `safe`."""
    keep = _UNRESERVED | frozenset(safe.encode())
    return "".join(chr(b) if b in keep else f"%{b:02X}" for b in text.encode())


def urlencode(query: dict[str, Any]) -> str:
    """A query string; None values are left out, a list or tuple repeats its key."""
    pairs = []
    for key, value in query.items():
        values = value if isinstance(value, list | tuple) else [value]
        pairs += [f"{quote(str(key))}={quote(str(v))}" for v in values if v is not None]
    return "&".join(pairs)


def _dial(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        raise
    return sock


def _send(
    sock: socket.socket,
    method: str,
    target: str,
    body: bytes | BinaryIO | None,
    headers: dict[str, str],
) -> None:
    head = f"{method} {target} HTTP/1.1\r\nHost: lamina\r\nUser-Agent: lamina-cli\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    if body is None or isinstance(body, bytes):
        data = body or b""
        sock.sendall(f"{head}Content-Length: {len(data)}\r\n\r\n".encode() + data)
        return
    sock.sendall(f"{head}Transfer-Encoding: chunked\r\n\r\n".encode())
    while chunk := body.read(1 << 20):
        sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    sock.sendall(b"0\r\n\r\n")


def _read_head(sock: socket.socket) -> Reply:
    reader: BinaryIO = sock.makefile("rb")
    try:
        status_line = reader.readline().decode("latin-1")
    except OSError:
        status_line = ""
    if not status_line:
        sock.close()
        raise ConnectionLost("the daemon closed the connection without answering")
    status = int(status_line.split()[1])
    headers: dict[str, str] = {}
    while line := reader.readline().decode("latin-1").strip():
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    return Reply(sock, status, headers, reader)


def _error_message(reply: Reply) -> str:
    data = reply.read()
    try:
        return str(json.loads(data)["message"])
    except (ValueError, KeyError, TypeError):
        return data.decode(errors="replace").strip() or f"HTTP {reply.status}"
