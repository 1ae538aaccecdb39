"""Streams give their slot back when their client leaves, whatever kind they are.

The daemon here serves at most SLOTS streams (LAMINA_MAX_STREAMS). For each kind of
stream that may wait for ever on its own (logs -f of a quiet container, wait, attach
without stdin to a running or a not yet started container, exec without stdin), SLOTS
clients open one and leave; then SLOTS new ones are served and one more is refused
(503): so every slot came back, and the limit holds. A build refused for want of a
slot, or whose client leaves before its answer, leaves no extracted context behind.
"""

from __future__ import annotations

import io
import json
import socket
import tarfile
import time
from collections.abc import Callable, Iterator

import pytest

from lamina.config import Paths
from tests.conftest import Daemon, needs_root
from tests.support.rawhttp import request, send
from tests.support.wait import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.root, needs_root()]

SLOTS = 3
UPGRADE = "Connection: Upgrade\r\nUpgrade: tcp\r\n"


@pytest.fixture
def instance(instance: Paths, monkeypatch: pytest.MonkeyPatch) -> Paths:
    monkeypatch.setenv("LAMINA_MAX_STREAMS", str(SLOTS))
    return instance


def _open(
    sock_path: str, method: str, target: str, extra: str = "", body: bytes = b""
) -> socket.socket:
    """A connection that sent the request and read its answer's status; 503 raises."""
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(10)
    sock.connect(sock_path)
    head = f"{method} /v1.45{target} HTTP/1.1\r\nHost: d\r\n{extra}"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    sock.sendall((head + "\r\n").encode() + body)
    status = sock.recv(12)[9:12]
    if status == b"503":
        sock.close()
        raise Refused
    assert status in (b"200", b"101"), status
    return sock


class Refused(Exception):
    pass


def _all_slots_come_back(opener: Callable[[], socket.socket]) -> None:
    for sock in [opener() for _ in range(SLOTS)]:
        sock.close()  # the client leaves without a word
    deadline = time.monotonic() + 5  # a quiet follower or waiter looks every second
    while True:
        held: list[socket.socket] = []
        try:
            held += [opener() for _ in range(SLOTS)]
            with pytest.raises(Refused):
                held.append(opener())  # the limit still holds
            return
        except Refused:
            assert time.monotonic() < deadline, "slots stay taken by clients that left"
            time.sleep(0.2)
        finally:
            for sock in held:
                sock.close()


@pytest.fixture
def quiet(daemon: Daemon, busybox: str) -> Iterator[str]:
    cid = daemon.lamina("run", "-d", busybox, "sleep", "1000").stdout.strip()
    yield cid
    daemon.lamina("rm", "-f", cid)


def test_logs_follow_of_a_quiet_container(daemon: Daemon, quiet: str) -> None:
    sock = str(daemon.paths.socket)
    _all_slots_come_back(lambda: _open(sock, "GET", f"/containers/{quiet}/logs?follow=1&stdout=1"))


def test_wait_for_a_container_that_does_not_end(daemon: Daemon, quiet: str) -> None:
    sock = str(daemon.paths.socket)
    _all_slots_come_back(lambda: _open(sock, "POST", f"/containers/{quiet}/wait"))


def test_attach_without_stdin_to_a_silent_container(daemon: Daemon, quiet: str) -> None:
    sock = str(daemon.paths.socket)
    target = f"/containers/{quiet}/attach?stream=1&stdout=1&stderr=1"
    _all_slots_come_back(lambda: _open(sock, "POST", target, UPGRADE))


def test_attach_to_a_container_nobody_starts(daemon: Daemon, busybox: str) -> None:
    sock = str(daemon.paths.socket)
    cid = daemon.lamina("create", busybox, "true").stdout.strip()
    target = f"/containers/{cid}/attach?stream=1&stdout=1&logs=1"
    _all_slots_come_back(lambda: _open(sock, "POST", target, UPGRADE))
    # The attaches that left are forgotten: a start now runs without waiting for them.
    assert request(sock, "POST", f"/v1.45/containers/{cid}/start").status == 204
    waited = request(sock, "POST", f"/v1.45/containers/{cid}/wait", timeout=20)
    assert waited.json()["StatusCode"] == 0


def test_exec_without_stdin_of_a_silent_command(daemon: Daemon, quiet: str) -> None:
    sock = str(daemon.paths.socket)

    def exec_start() -> socket.socket:
        config = {"Cmd": ["sleep", "1000"], "AttachStdout": True, "AttachStderr": True}
        made = request(sock, "POST", f"/v1.45/containers/{quiet}/exec", json.dumps(config).encode())
        body = json.dumps({"Detach": False, "Tty": False}).encode()
        return _open(sock, "POST", f"/exec/{made.json()['Id']}/start", UPGRADE, body)

    _all_slots_come_back(exec_start)


def _context_tar(busybox: str) -> bytes:
    dockerfile = f"FROM {busybox}\nRUN sleep 5\n".encode()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
    return out.getvalue()


def test_a_build_refused_or_left_early_leaves_no_context(
    daemon: Daemon, busybox: str, quiet: str
) -> None:
    sock = str(daemon.paths.socket)
    contexts = daemon.paths.root / "build" / "contexts"
    tar = _context_tar(busybox)
    head = f"POST /v1.45/build?t=x HTTP/1.1\r\nHost: d\r\nContent-Length: {len(tar)}\r\n\r\n"
    followers = [
        _open(sock, "GET", f"/containers/{quiet}/logs?follow=1&stdout=1") for _ in range(SLOTS)
    ]
    try:
        refused = send(sock, head.encode() + tar, head_only=True)
        assert refused.status == 503
        assert not list(contexts.glob("*"))
    finally:
        for follower in followers:
            follower.close()
    with socket.socket(socket.AF_UNIX) as client:  # gone before the first byte of the answer
        client.connect(sock)
        client.sendall(head.encode() + tar)
    wait_for(
        lambda: not list(contexts.glob("*")),
        timeout=15,
        what="the build context to go with its client",
    )
