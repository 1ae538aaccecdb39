"""HTTP/1.1 on a unix socket, byte for byte: for requests no well-behaved client sends
(bad UTF-8, a body shorter than its Content-Length, a head that never ends)."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from typing import Any


@dataclass
class Answer:
    status: int
    head: bytes
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def message(self) -> str:
        try:
            return str(self.json().get("message", ""))
        except ValueError:
            return self.body.decode(errors="replace")


def send(sock_path: str, raw: bytes, *, timeout: float = 30, head_only: bool = False) -> Answer:
    """Send `raw`, half-close, read the answer to its end (or only its head)."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(timeout)
        sock.connect(sock_path)
        try:
            sock.sendall(raw)
            if not head_only:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the daemon answered before reading everything: read its answer
        data = b""
        while b"\r\n\r\n" not in data or not head_only:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                # A daemon that closed with our bytes unread: its answer came before.
                if b"\r\n\r\n" in data:
                    break
                raise
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    if not head:
        raise AssertionError("the daemon closed the connection without an answer")
    if b"chunked" in head.lower() and not head_only:
        body = _unchunk(body)
    return Answer(int(head.split()[1]), head, body)


def request(
    sock_path: str,
    method: str,
    target: str,
    body: bytes | None = None,
    *,
    timeout: float = 30,
    head_only: bool = False,
) -> Answer:
    head = f"{method} {target} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    raw = (head + "\r\n").encode() + (body or b"")
    return send(sock_path, raw, timeout=timeout, head_only=head_only)


def _unchunk(data: bytes) -> bytes:
    out = b""
    while data:
        size, _, rest = data.partition(b"\r\n")
        n = int(size.split(b";")[0] or b"0", 16)
        if n == 0:
            break
        out += rest[:n]
        data = rest[n + 2 :]
    return out
