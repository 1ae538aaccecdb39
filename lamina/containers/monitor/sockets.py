"""Unix sockets at paths of any length.

A socket address holds at most 107 bytes, and a state directory under a long root with
64-hex container ids can pass that. For a longer path we go through the directory's
descriptor (`/proc/self/fd/N/name`): the kernel resolves the directory from the open
descriptor, so only the short alias has to fit.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_MAX_ADDRESS = 100  # below the kernel's 107, with room for the trailing NUL


@contextmanager
def address(path: Path) -> Iterator[str]:
    """A path that names the socket at `path` and fits in a socket address."""
    if len(os.fsencode(path)) <= _MAX_ADDRESS:
        yield str(path)
        return
    dir_fd = os.open(path.parent, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield f"/proc/self/fd/{dir_fd}/{path.name}"
    finally:
        os.close(dir_fd)


def listen(path: Path, backlog: int = 16) -> socket.socket:
    """A listening socket at `path`, replacing a stale one a dead monitor left."""
    path.unlink(missing_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        with address(path) as name:
            sock.bind(name)
        os.chmod(path, 0o600)
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


def connect(path: Path, timeout: float | None = None) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    sock.settimeout(timeout)
    try:
        with address(path) as name:
            sock.connect(name)
    except BaseException:
        sock.close()
        raise
    return sock


def address_for_child(path: Path, dir_fd: int) -> str:
    """An address of `path` for a process we start (runc's `--console-socket`).

    Our own `/proc/self` would be the child's, so a long path goes through
    `/proc/<our pid>/fd/<dir_fd>`; the caller keeps `dir_fd` open meanwhile.
    """
    if len(os.fsencode(path)) <= _MAX_ADDRESS:
        return str(path)
    return f"/proc/{os.getpid()}/fd/{dir_fd}/{path.name}"


def recv_line(sock: socket.socket) -> bytes:
    """One newline-terminated message (or what came before EOF)."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data
