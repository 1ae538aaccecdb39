"""The client side of attach/exec streams: a hijacked connection to and from a terminal.

Without a TTY the daemon sends Docker's multiplexed frames (stdout and stderr apart);
with one, raw bytes, and our terminal is put in raw mode so keys reach the container
as typed; window-size changes are sent to the daemon as resizes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import struct
import sys
import threading
from collections.abc import Callable
from types import FrameType

from lamina.cli.client import Client, Reply

_HEADER = struct.Struct(">BxxxI")


def hijack(
    client: Client, path: str, *, query: dict[str, object] | None = None, json_body: object = None
) -> Reply:
    headers = {"Connection": "Upgrade", "Upgrade": "tcp"}
    return client.request("POST", path, query=query, json_body=json_body, headers=headers)


def pump(
    reply: Reply, *, tty: bool, stdin: bool, resize: Callable[[int, int], None] | None
) -> None:
    """Copy stdin to the connection and the connection to stdout/stderr until it ends."""
    sock = reply.sock
    if stdin:
        threading.Thread(target=_send_stdin, args=(sock,), daemon=True).start()
    with _raw_terminal(tty and stdin and sys.stdin.isatty()), _resizing(tty, resize):
        if tty:
            _copy_raw(reply)
        else:
            _copy_frames(reply)


def _send_stdin(sock: socket.socket) -> None:
    fd = sys.stdin.fileno()
    try:
        while data := os.read(fd, 65536):
            sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)  # stdin ended: the container's stdin closes too
    except OSError:
        pass


def _copy_raw(reply: Reply) -> None:
    out = sys.stdout.buffer
    reader = reply._reader
    while data := reader.read1(65536):  # type: ignore[attr-defined]
        out.write(data)
        out.flush()


def _copy_frames(reply: Reply) -> None:
    reader = reply._reader
    outs = {1: sys.stdout.buffer, 2: sys.stderr.buffer}
    while True:
        head = reader.read(_HEADER.size)
        if len(head) < _HEADER.size:
            return
        stream, size = _HEADER.unpack(head)
        payload = reader.read(size)
        out = outs.get(stream, sys.stderr.buffer)
        out.write(payload)
        out.flush()


@contextlib.contextmanager
def _raw_terminal(enabled: bool):  # type: ignore[no-untyped-def]
    if not enabled:
        yield
        return
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextlib.contextmanager
def _resizing(tty: bool, resize: Callable[[int, int], None] | None):  # type: ignore[no-untyped-def]
    if not (tty and resize and sys.stdout.isatty()):
        yield
        return

    def send(_signum: int = 0, _frame: FrameType | None = None) -> None:
        size = os.get_terminal_size(sys.stdout.fileno())
        with contextlib.suppress(Exception):
            resize(size.lines, size.columns)

    previous = signal.signal(signal.SIGWINCH, send)
    send()
    try:
        yield
    finally:
        signal.signal(signal.SIGWINCH, previous)


def terminal_size() -> list[int] | None:
    try:
        size = os.get_terminal_size(sys.stdout.fileno())
    except OSError:
        return None
    return [size.lines, size.columns]
