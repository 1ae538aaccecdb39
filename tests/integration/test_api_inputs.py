"""Issue 9 item 6: each request that fuzzing found answered with a 500 (or stored and
broken later), and each unbounded resource, as a regression test against a daemon."""

from __future__ import annotations

import io
import json
import socket
import tarfile
import time
from collections.abc import Iterator

import pytest

from tests.conftest import Daemon, needs_root
from tests.support.rawhttp import Answer, request, send
from tests.support.wait import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.root, needs_root()]


def _sock(daemon: Daemon) -> str:
    return str(daemon.paths.socket)


def _containers(daemon: Daemon) -> list[str]:
    return daemon.lamina("ps", "-aq").stdout.split()


def _create(daemon: Daemon, body: object, query: str = "") -> Answer:
    data = json.dumps(body).encode() if not isinstance(body, bytes) else body
    return request(_sock(daemon), "POST", f"/v1.45/containers/create{query}", data)


@pytest.fixture
def running(daemon: Daemon, busybox: str) -> Iterator[str]:
    """A running container that ends on SIGTERM (once it says so: as PID 1 it ignores
    SIGTERM until its trap is set)."""
    script = "trap 'exit 0' TERM; echo ready; while true; do sleep 0.1; done"
    cid = daemon.lamina("run", "-d", busybox, "sh", "-c", script).stdout.strip()
    wait_for(lambda: "ready" in daemon.lamina("logs", cid).stdout, what="the container's ready")
    yield cid


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"Image": "busybox\xff"}', "not valid UTF-8"),
        (b"[1, 2]", "must be a JSON object"),
        (b'"busybox"', "must be a JSON object"),
        (b"[" * 100_000 + b"]" * 100_000, "nested"),
        (b'{"Image": "busybox", "Env": [1, 2]}', "Env[0]: must be a string"),
        (b'{"Image": "busybox", "StopTimeout": NaN}', "NaN is not a JSON number"),
        (
            b'{"Image": "busybox", "NetworkingConfig": {"EndpointsConfig": []}}',
            "NetworkingConfig.EndpointsConfig: must be an object",
        ),
        (
            b'{"Image": "busybox", "HostConfig": {"Memory": "lots"}}',
            "HostConfig.Memory: must be an integer",
        ),
        (
            b'{"Image": "busybox", "HostConfig": {"PortBindings": {"80/tcp": "x"}}}',
            "HostConfig.PortBindings['80/tcp']: must be an array",
        ),
    ],
    ids=lambda v: v[:30] if isinstance(v, bytes) else None,
)
def test_bad_create_bodies_are_400_and_create_nothing(
    daemon: Daemon, busybox: str, body: bytes, message: str
) -> None:
    answer = _create(daemon, body)
    assert (answer.status, message in answer.message) == (400, True), answer.message
    assert _containers(daemon) == []


def test_a_body_cut_short_creates_nothing(daemon: Daemon, busybox: str) -> None:
    body = json.dumps({"Image": busybox, "Cmd": ["true"]}).encode()
    raw = b"POST /v1.45/containers/create HTTP/1.1\r\nHost: d\r\nContent-Length: %d\r\n\r\n" % (
        len(body) + 80
    )
    answer = send(_sock(daemon), raw + body)  # then half-closed: 80 bytes never come
    assert answer.status == 400
    assert "request body ended after" in answer.message
    assert _containers(daemon) == []


def test_stop_timeout_and_signal_are_checked(daemon: Daemon, running: str) -> None:
    sock = _sock(daemon)
    for query, message in [
        ("t=abc", "parameter t"),
        ("t=99999999999999999999", "out of range"),
        ("signal=SIGFOO", "Invalid signal: SIGFOO"),
    ]:
        for action in ("stop", "restart"):
            answer = request(sock, "POST", f"/v1.45/containers/{running}/{action}?{query}")
            assert (answer.status, message in answer.message) == (400, True), answer.message
    answer = request(sock, "POST", f"/v1.45/containers/{running}/kill?signal=SIGFOO")
    assert (answer.status, answer.message) == (400, "Invalid signal: SIGFOO")
    # The largest int64 is a valid timeout: the container ends on SIGTERM at once.
    answer = request(sock, "POST", f"/v1.45/containers/{running}/stop?t=9223372036854775807")
    assert answer.status == 204
    answer = request(sock, "POST", f"/v1.45/containers/{running}/restart?t=-1&signal=SIGTERM")
    assert answer.status == 204


def test_top_with_a_nul_and_exec_with_an_array(daemon: Daemon, running: str) -> None:
    sock = _sock(daemon)
    answer = request(sock, "GET", f"/v1.45/containers/{running}/top?ps_args=%00")
    assert (answer.status, answer.message) == (400, "parameter ps_args: contains a NUL character")
    answer = request(sock, "POST", f"/v1.45/containers/{running}/exec", b'["ls"]')
    assert (answer.status, answer.message) == (
        400,
        "request body must be a JSON object, not an array",
    )
    answer = request(
        sock, "POST", f"/v1.45/containers/{running}/exec", b'{"Cmd": ["ls"], "ConsoleSize": [1]}'
    )
    assert (answer.status, answer.message) == (
        400,
        "ConsoleSize: must be an array of 2 items, not 1",
    )


def test_inspect_stays_valid_json(daemon: Daemon, busybox: str) -> None:
    answer = _create(daemon, b'{"Image": "%s", "StopTimeout": 1e999}' % busybox.encode())
    assert answer.status == 400
    answer = _create(daemon, {"Image": busybox, "StopTimeout": 3, "Labels": {"a": "\u00e9"}})
    assert answer.status == 201
    cid = answer.json()["Id"]
    inspected = request(_sock(daemon), "GET", f"/v1.45/containers/{cid}/json")
    assert json.loads(inspected.body)["Config"]["StopTimeout"] == 3


def test_names_and_labels_are_bounded(daemon: Daemon, busybox: str) -> None:
    answer = _create(daemon, {"Image": busybox}, "?name=" + "a" * 1000)
    assert (answer.status, "longer than 253" in answer.message) == (400, True)
    answer = _create(daemon, {"Image": busybox, "Labels": {"big": "x" * (100 << 10)}})
    assert (answer.status, "over 64 KiB" in answer.message) == (413, True)
    big = b'{"Image": "busybox", "Labels": {"big": "%s"}}' % (b"x" * (100 << 20))
    answer = _create(daemon, big)
    assert (answer.status, "capped" in answer.message) == (413, True)
    assert _containers(daemon) == []


def _status_field(pid: int, name: str) -> int:
    with open(f"/proc/{pid}/status", encoding="utf-8") as f:
        for line in f:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    raise AssertionError(name)


def test_tar_bodies_are_streamed(daemon: Daemon) -> None:
    """A 96 MiB import grows the daemon's peak memory by far less than the tar."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        info = tarfile.TarInfo("big")
        info.size = 96 << 20
        tar.addfile(info, io.BytesIO(bytes(info.size)))
    payload = data.getvalue()
    peak = _status_field(daemon.process.pid, "VmHWM")
    head = (
        b"POST /v1.45/images/create?fromSrc=-&repo=big HTTP/1.1\r\nHost: d\r\n"
        b"Content-Type: application/x-tar\r\nContent-Length: %d\r\n\r\n" % len(payload)
    )
    answer = send(_sock(daemon), head + payload, timeout=120)
    assert answer.status == 200 and b"sha256:" in answer.body, answer.body
    grown = (_status_field(daemon.process.pid, "VmHWM") - peak) << 10
    assert grown < 32 << 20, f"peak memory grew {grown >> 20} MiB for a 96 MiB tar"


def test_ping_answers_during_a_flood_and_threads_stay_bounded(daemon: Daemon) -> None:
    sock_path = _sock(daemon)
    pid = daemon.process.pid
    before = _status_field(pid, "Threads")
    flood = []
    try:
        for i in range(2000):
            sock = socket.socket(socket.AF_UNIX)
            sock.connect(sock_path)
            sock.send(b"POST /v1.45/containers/create HTTP/1.1\r\n" if i % 2 else b"GET /_p")
            flood.append(sock)
        start = time.monotonic()
        answer = request(sock_path, "GET", "/_ping", timeout=10)
        assert (answer.status, answer.body) == (200, b"OK")
        assert time.monotonic() - start < 2
        threads = _status_field(pid, "Threads")
        assert threads - before < 10, f"{threads} threads (was {before}) for 2,000 connections"
    finally:
        for sock in flood:
            sock.close()
