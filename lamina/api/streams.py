"""Joining a hijacked client connection to a monitor's attach socket.

The monitor already speaks Docker's wire format (multiplexed frames without a TTY, raw
bytes with one), so the daemon only copies bytes both ways: client → monitor is the
process's stdin, monitor → client its output. When the client half-closes (stdin
ended), the monitor is told by a half-close too; when the monitor closes (the process
ended), the client's connection is closed.
"""

from __future__ import annotations

import contextlib
import selectors
import socket

_CHUNK = 65536


def splice(client: socket.socket, upstream: socket.socket, *, stdin: bool) -> None:
    """Copy until the upstream side ends; return with both sockets closed."""
    sel = selectors.DefaultSelector()
    sel.register(upstream, selectors.EVENT_READ, "up")
    if stdin:
        sel.register(client, selectors.EVENT_READ, "client")
    try:
        while True:
            for key, _ in sel.select():
                if key.data == "up":
                    data = _recv(upstream)
                    if not data:
                        return
                    if not _send(client, data):
                        return
                else:
                    data = _recv(client)
                    if not data:
                        sel.unregister(client)
                        with contextlib.suppress(OSError):
                            upstream.shutdown(socket.SHUT_WR)
                    elif not _send(upstream, data):
                        sel.unregister(client)
    finally:
        sel.close()
        upstream.close()
        with contextlib.suppress(OSError):
            client.shutdown(socket.SHUT_RDWR)


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(_CHUNK)
    except OSError:
        return b""


def _send(sock: socket.socket, data: bytes) -> bool:
    try:
        sock.sendall(data)
    except OSError:
        return False
    return True
