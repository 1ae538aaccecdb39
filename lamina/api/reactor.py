"""Connections waiting for a request, held by one thread without blocking on any of them.

Thread-per-connection made every idle keep-alive connection, and every client that
sent half a request and stopped, hold a thread (2,000 of them made 2,005 threads). Here
one reactor thread accepts connections and reads request heads from all of them with
`selectors`; only a *complete* request head (and, for a small body of known length,
the body too, after a `100 Continue` if the client expects one) goes to a worker, so
a worker never waits on a slow or silent client for the request that matters most,
and the accept loop never waits at all.

Bounds: at most `max_parked` connections wait here (past that the one idle longest is
closed for the new one); a head over MAX_HEAD bytes is refused (431); a head not complete
HEAD_TIMEOUT seconds after its first byte, or a connection idle for IDLE_TIMEOUT, is
closed (408 for the former).
"""

from __future__ import annotations

import contextlib
import json
import re
import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_HEAD = 256 << 10  # bytes of request line and headers (build args ride in the URL)
PREBUFFER = 64 << 10  # a body of known length up to this is read before a worker runs
HEAD_TIMEOUT = 60.0  # seconds from a head's first byte to its end
IDLE_TIMEOUT = 300.0  # seconds a connection may wait between requests
_END_OF_HEAD = re.compile(rb"\r?\n\r?\n")


class BadHead(Exception):
    """A request head that cannot be served; `status` is the answer (400, 431, 501)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Head:
    method: str
    target: str
    version: str
    headers: dict[str, str]  # lower-case names; a repeated header's values joined by ", "

    def get(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    @property
    def chunked(self) -> bool:
        return "chunked" in self.get("transfer-encoding").lower()

    @property
    def length(self) -> int:
        text = self.get("content-length")
        return int(text) if text else 0

    @property
    def keep_alive(self) -> bool:
        tokens = {t.strip().lower() for t in self.get("connection").split(",")}
        if self.version == "HTTP/1.0":
            return "keep-alive" in tokens
        return "close" not in tokens


def parse_head(data: bytes) -> Head:
    """The request line and headers of `data` (the head, without the blank line)."""
    try:
        text = data.decode("latin-1")
    except UnicodeDecodeError as err:  # pragma: no cover (latin-1 decodes anything)
        raise BadHead(400, "bad request head") from err
    lines = text.replace("\r\n", "\n").split("\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or parts[2] not in ("HTTP/1.0", "HTTP/1.1") or not parts[1]:
        raise BadHead(400, f"bad request line {lines[0][:80]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise BadHead(400, f"bad header line {line[:80]!r}")
        key = name.lower()
        headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    head = Head(parts[0], parts[1], parts[2], headers)
    _check_framing(head)
    return head


def _check_framing(head: Head) -> None:
    encoding = head.get("transfer-encoding").strip().lower()
    if encoding and encoding != "chunked":
        raise BadHead(501, f"transfer encoding {encoding!r} is not supported")
    length = head.get("content-length")
    if length and not (length.isascii() and length.isdigit() and len(length) < 19):
        raise BadHead(400, f"bad Content-Length {length[:40]!r}")


@dataclass
class Parked:
    """A connection between requests, and what it has sent of the next one."""

    sock: socket.socket
    buffer: bytearray = field(default_factory=bytearray)
    last: float = field(default_factory=time.monotonic)  # the last byte, or parking
    started: float | None = None  # the first byte of the current head
    head: Head | None = None
    head_end: int = 0


Ready = Callable[[socket.socket, Head, bytes], None]  # a complete head, the bytes after it


class Reactor:
    """Accepts on `listener` and hands complete request heads to `ready`."""

    def __init__(self, listener: socket.socket, ready: Ready, *, max_parked: int) -> None:
        self._listener = listener
        self._ready = ready
        self.max_parked = max_parked
        self._selector = selectors.DefaultSelector()
        self._parked: dict[socket.socket, Parked] = {}
        self._returned: list[Parked] = []
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._stopping = threading.Event()
        self._stopped = threading.Event()

    def park(self, sock: socket.socket, buffered: bytes = b"") -> None:
        """Take `sock` back between requests (from any thread); `buffered` is what was
        read past the last request, the start of the next."""
        with self._lock:
            self._returned.append(Parked(sock, bytearray(buffered)))
        self._wake()

    def run(self, poll_interval: float = 0.5) -> None:
        listener, wake = self._listener, self._wake_r
        listener.setblocking(False)
        self._selector.register(listener, selectors.EVENT_READ)
        self._selector.register(wake, selectors.EVENT_READ)
        next_sweep = time.monotonic() + 1
        try:
            while not self._stopping.is_set():
                for key, _ in self._selector.select(poll_interval):
                    if key.fileobj is listener:
                        self._accept()
                    elif key.fileobj is wake:
                        self._take_returned()
                    else:
                        self._receive(self._parked[key.fileobj])  # type: ignore[index]
                if time.monotonic() >= next_sweep:
                    self._sweep()
                    next_sweep = time.monotonic() + 1
        finally:
            self._stopped.set()

    def stop(self) -> None:
        """Make run() return (call from another thread) and wait for it."""
        self._stopping.set()
        self._wake()
        self._stopped.wait()

    def close(self) -> None:
        for p in list(self._parked.values()):
            self._close(p)
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    @property
    def parked(self) -> int:
        return len(self._parked)

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            self._wake_w.send(b"\0")

    def _accept(self) -> None:
        for _ in range(64):
            try:
                sock, _addr = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # out of descriptors: make room, take it on the next turn
                if not self._parked:
                    time.sleep(0.05)  # all are in use by requests: do not spin meanwhile
                self._evict()
                return
            if len(self._parked) >= self.max_parked:
                self._evict()
            self._add(Parked(sock))

    def _add(self, p: Parked) -> None:
        p.sock.setblocking(False)
        p.last = time.monotonic()
        self._parked[p.sock] = p
        self._selector.register(p.sock, selectors.EVENT_READ)
        if p.buffer:
            self._advance(p)

    def _take_returned(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while self._wake_r.recv(4096):
                pass
        with self._lock:
            returned, self._returned = self._returned, []
        for p in returned:
            if len(self._parked) >= self.max_parked:
                self._evict()
            self._add(p)

    def _receive(self, p: Parked) -> None:
        try:
            data = p.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            if p.head is not None:  # a body cut short: the worker answers it (400)
                self._hand_over(p)
            else:
                self._close(p)
            return
        p.buffer += data
        p.last = time.monotonic()
        if p.started is None:
            p.started = p.last
        self._advance(p)

    def _advance(self, p: Parked) -> None:
        if p.head is None:
            end = _END_OF_HEAD.search(p.buffer)
            if end is None:
                if len(p.buffer) > MAX_HEAD:
                    self._refuse(p, 431, "request head too large")
                return
            if end.start() > MAX_HEAD:
                self._refuse(p, 431, "request head too large")
                return
            try:
                p.head = parse_head(bytes(p.buffer[: end.start()]))
            except BadHead as err:
                self._refuse(p, err.status, str(err))
                return
            p.head_end = end.end()
            if self._body_pending(p) and p.head.get("expect").lower() == "100-continue":
                with contextlib.suppress(OSError):  # 25 bytes on a fresh socket: they fit
                    p.sock.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        if not self._body_pending(p):
            self._hand_over(p)

    @staticmethod
    def _body_pending(p: Parked) -> bool:
        """Whether to wait for more of a small body before a worker takes the request."""
        head = p.head
        if head is None or head.chunked:
            return False
        return head.length <= PREBUFFER and len(p.buffer) - p.head_end < head.length

    def _hand_over(self, p: Parked) -> None:
        self._forget(p)
        assert p.head is not None
        self._ready(p.sock, p.head, bytes(p.buffer[p.head_end :]))

    def _sweep(self) -> None:
        now = time.monotonic()
        for p in list(self._parked.values()):
            if p.started is not None and now - p.started > HEAD_TIMEOUT:
                self._refuse(p, 408, "request not complete in time")
            elif now - p.last > IDLE_TIMEOUT:
                self._close(p)

    def _evict(self) -> None:
        if self._parked:
            self._close(min(self._parked.values(), key=lambda p: p.last))

    def _refuse(self, p: Parked, status: int, message: str) -> None:
        body = json.dumps({"message": message}).encode() + b"\n"
        head = (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Bad Request')}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        )
        with contextlib.suppress(OSError):
            p.sock.send(head.encode() + body)
        self._close(p)

    def _forget(self, p: Parked) -> None:
        del self._parked[p.sock]
        self._selector.unregister(p.sock)

    def _close(self, p: Parked) -> None:
        self._forget(p)
        p.sock.close()


_REASONS = {
    400: "Bad Request",
    408: "Request Timeout",
    431: "Request Header Fields Too Large",
    501: "Not Implemented",
}
