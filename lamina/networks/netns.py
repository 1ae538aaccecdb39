"""Named network namespaces: a file bind-mounted over a namespace keeps it alive.

A container's namespace lives at `<run>/netns/<id>` from `attach` to `detach`, so runc
can join it and a restarted daemon can find it. Namespaces are entered only by
short-lived threads: setns(2) and unshare(2) of a network namespace change the calling
thread alone, and a thread that ends takes its namespace with it, so the daemon's other
threads never leave the host's namespace (no fork of a threaded daemon either).
"""

from __future__ import annotations

import ctypes
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from lamina.errors import Internal
from lamina.store.mount import Mount, mount, unmount_all

CLONE_NEWNET = 0x40000000
T = TypeVar("T")

_libc = ctypes.CDLL(None, use_errno=True)
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]


def create(path: Path) -> None:
    """A new, empty network namespace (loopback only, down) pinned at `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(exist_ok=True)

    def pin() -> None:
        if _libc.unshare(CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET)")
        mount(Mount("bind", "/proc/thread-self/ns/net", options=("bind",)), path)

    try:
        in_thread(pin)
    except OSError as err:
        path.unlink(missing_ok=True)
        raise Internal(f"creating network namespace {path}: {err}") from err


def remove(path: Path) -> None:
    """Unpin and delete; the namespace goes when nothing else holds it."""
    unmount_all(path)
    path.unlink(missing_ok=True)


def run_in(path: Path, action: Callable[[], T]) -> T:
    """Run `action` on a thread that has joined the namespace at `path`. Sockets it
    makes belong to that namespace for their whole life, whichever thread uses them."""

    def inside() -> T:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            if _libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), f"setns({path})")
        finally:
            os.close(fd)
        return action()

    return in_thread(inside)


def socket_in(path: Path, family: int, kind: int, proto: int = 0) -> socket.socket:
    return run_in(path, lambda: socket.socket(family, kind, proto))


def in_thread(action: Callable[[], T]) -> T:
    result: list[T] = []
    error: list[BaseException] = []

    def body() -> None:
        try:
            result.append(action())
        except BaseException as err:  # handed to the caller's thread
            error.append(err)

    worker = threading.Thread(target=body, name="netns", daemon=True)
    worker.start()
    worker.join()
    if error:
        raise error[0]
    return result[0]
