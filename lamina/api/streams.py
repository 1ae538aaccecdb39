"""Joining a hijacked client connection to a monitor's attach socket, and noticing that a
client has gone.

The monitor already speaks Docker's wire format (multiplexed frames without a TTY, raw
bytes with one), so the daemon only copies bytes both ways: client → monitor is the
process's stdin, monitor → client its output. When the client half-closes (stdin
ended), the monitor is told by a half-close too; when the monitor closes (the process
ended), the client's connection is closed.

A client that *leaves* is not one that half-closes: the docker CLI closes its sending
side at once when it attaches without stdin, and goes on reading. What marks a client
gone is a hang-up, which a unix socket reports (POLLHUP) once the peer has closed both
directions, by close() or by dying. So the client is always watched for that, with or
without stdin, and a splice ends as soon as its client leaves even when the process is
silent (a stream slot held for a departed client is one a new client cannot have).
"""

from __future__ import annotations

import contextlib
import select
import socket

_CHUNK = 65536
_GONE = select.POLLHUP | select.POLLERR | select.POLLNVAL


def peer_closed(sock: socket.socket) -> bool:
    """Whether the other end of `sock` has closed the connection (both directions), or
    it failed. A peer that only half-closed (it sends no more) is still there."""
    poller = select.poll()
    poller.register(sock, 0)  # hang-ups and errors are reported whatever is asked
    return any(events & _GONE for _, events in poller.poll(0))


def splice(client: socket.socket, upstream: socket.socket, *, stdin: bool) -> None:
    """Copy until the upstream side ends or the client leaves (or reads nothing for its
    send timeout); return with both sockets closed. Only with `stdin` are the client's
    bytes read and passed on."""
    poller = select.poll()
    poller.register(upstream, select.POLLIN)
    reading = stdin  # whether the client's bytes are still wanted
    poller.register(client, select.POLLIN if reading else 0)
    try:
        while True:
            for fd, events in poller.poll():
                if fd == upstream.fileno():
                    data = _recv(upstream)
                    if not data or not _send(client, data):
                        return
                elif reading and events & select.POLLIN:
                    data = _recv(client)
                    if not data or not _send(upstream, data):
                        reading = False
                        poller.modify(client, 0)
                    if not data:
                        with contextlib.suppress(OSError):
                            upstream.shutdown(socket.SHUT_WR)
                elif events & _GONE:
                    return
    finally:
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
