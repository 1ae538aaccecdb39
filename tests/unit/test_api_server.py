"""The API server's bounds, with a stand-in router: no engine, no root.

What is checked: `/_ping` answers during a flood of idle and half-sent connections while
the server's threads stay bounded; a body cut short, a body over the cap, a head that
never ends, and a stream past the stream cap are answered, not waited on for ever; a
stream whose client leaves, or stops reading, gives its slot back.
"""

from __future__ import annotations

import contextlib
import json
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lamina.api import http, limits, reactor, workers
from lamina.api.http import HIJACKED, Request, Response, Server, Stream
from lamina.api.limits import Limits, nofile
from lamina.api.router import Router
from lamina.api.streams import splice
from lamina.containers.logs.reader import read_batches
from tests.support.wait import wait_for

_LINE = b'{"log":"hi\\n","stream":"stdout","time":"2024-01-01T00:00:00.000000000Z"}\n'


def _router(folder: Path) -> Router:
    router = Router(max_version="1.45", log=lambda _m: None)
    log = folder / "quiet-json.log"
    log.write_bytes(_LINE)
    silent: list[socket.socket] = []  # the far ends of upstreams that never speak

    @router.route("GET", "/_ping")
    def ping(req: Request) -> Response:
        return Response(200, b"OK", "text/plain")

    @router.route("POST", "/echo")
    def echo(req: Request) -> object:
        return {"got": req.json()}

    @router.route("GET", "/stream")
    def stream(req: Request) -> Response:
        def chunks() -> Iterator[bytes]:
            yield b"start\n"
            time.sleep(1.5)
            yield b"end\n"

        return Response.stream(chunks())

    @router.route("GET", "/follow")  # logs -f of a container that writes nothing more
    def follow(req: Request) -> Response:
        batches = read_batches(log, follow=True, stop=req.client_gone)
        return Response.stream(b"x" * len(batch) for batch in batches if batch)

    @router.route("POST", "/attach")  # attach without stdin to a silent process
    def attach(req: Request) -> Response:
        upstream, far = socket.socketpair()
        silent.append(far)
        splice(req.hijack(), upstream, stdin=False)
        return HIJACKED

    @router.route("GET", "/flood")  # more output than any client reads
    def flood(req: Request) -> Response:
        return Response.stream(b"y" * (1 << 20) for _ in iter(int, 1))

    @router.route("POST", "/tidy")  # a stream with something to clean up (a build context)
    def tidy(req: Request) -> Response:
        req.json()
        (folder / "made").touch()
        chunks = (b"z" for _ in range(3))
        return Response.stream(Stream(chunks, cleanup=(folder / "made").unlink))

    return router


@contextlib.contextmanager
def _running(limits: Limits) -> Iterator[tuple[Server, str]]:
    folder = Path(tempfile.mkdtemp(prefix="lam-api-", dir="/tmp"))
    path = str(folder / "api.sock")
    srv = Server(
        path, _router(folder).dispatch, common_headers={}, log=lambda _m: None, limits=limits
    )
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield srv, path
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)
        shutil.rmtree(folder)


@pytest.fixture
def server() -> Iterator[tuple[Server, str]]:
    with _running(Limits.for_descriptors(nofile(), streams=2)) as running:
        yield running


def _connect(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(10)
    sock.connect(path)
    return sock


def _exchange(path: str, raw: bytes) -> tuple[int, bytes]:
    with _connect(path) as sock:
        sock.sendall(raw)
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def _ping(path: str) -> tuple[int, bytes]:
    return _exchange(path, b"GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")


def test_ping_answers_during_a_flood_of_half_sent_connections(
    server: tuple[Server, str],
) -> None:
    srv, path = server
    before = threading.active_count()
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    flood = []
    try:
        for i in range(min(2000, soft // 3)):  # both ends live in this process
            sock = socket.socket(socket.AF_UNIX)
            sock.connect(path)
            if i % 2:  # half a head; the others send nothing at all
                sock.send(b"POST /echo HTTP/1.1\r\nContent-Length: 100\r\n")
            flood.append(sock)
        start = time.monotonic()
        assert _ping(path) == (200, b"OK")
        assert time.monotonic() - start < 2
        # Half-sent bodies hold no thread either while they are small: the reactor waits.
        for sock in flood[1:40:2]:
            sock.send(b"Host: x\r\n\r\n{")
        assert _ping(path) == (200, b"OK")
        assert threading.active_count() - before <= srv.workers.max_requests
        assert threading.active_count() - before < 20  # only what the pings needed
    finally:
        for sock in flood:
            sock.close()


def test_the_oldest_idle_connection_makes_room_when_too_many_wait(
    server: tuple[Server, str],
) -> None:
    srv, path = server
    srv.reactor.max_parked = 50
    flood = [_connect(path) for _ in range(60)]
    try:
        assert _ping(path) == (200, b"OK")
        wait_for(lambda: srv.reactor.parked <= 50, what="at most 50 parked connections")
        assert flood[0].recv(10) == b""  # the first to come, idle longest, was closed
    finally:
        for sock in flood:
            sock.close()


def test_a_body_cut_short_is_refused(server: tuple[Server, str]) -> None:
    _, path = server
    status, body = _exchange(
        path, b'POST /echo HTTP/1.1\r\nContent-Length: 100\r\n\r\n{"Image": "busybox"'
    )
    assert status == 400
    assert b"ended after 19 of its 100 bytes" in body


def test_a_json_body_over_the_cap_is_refused_without_reading_it_all(
    server: tuple[Server, str],
) -> None:
    _, path = server
    size = 1 << 30
    with _connect(path) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % size)
        chunk = b" " * (1 << 20)
        sent = 0
        try:
            while sent < 64 << 20:  # the daemon answers long before the gigabyte
                sock.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = sock.recv(65536)
    assert data.startswith(b"HTTP/1.1 413 ")
    assert sent < 64 << 20


def test_a_head_that_never_ends_is_refused(server: tuple[Server, str]) -> None:
    _, path = server
    status, _ = _exchange(path, b"GET /_ping HTTP/1.1\r\nX: " + b"a" * (reactor.MAX_HEAD + 10))
    assert status == 431


def test_a_slow_head_is_timed_out(
    server: tuple[Server, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, path = server
    monkeypatch.setattr(reactor, "HEAD_TIMEOUT", 0.5)
    with _connect(path) as sock:
        sock.send(b"GET /_ping HTTP/1.1\r\n")
        data = sock.recv(65536)
    assert data.startswith(b"HTTP/1.1 408 ")


def test_keep_alive_and_pipelined_requests(server: tuple[Server, str]) -> None:
    _, path = server
    body = json.dumps({"a": 1}).encode()
    one = b"POST /echo HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    with _connect(path) as sock:
        sock.sendall(one + one)
        time.sleep(0.3)
        sock.sendall(b"GET /_ping HTTP/1.1\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.count(b"HTTP/1.1 200 ") == 3
    assert data.count(b'{"got": {"a": 1}}') == 2


def test_a_connection_carries_on_after_a_chunked_body_read_whole(
    server: tuple[Server, str],
) -> None:
    srv, path = server
    with _connect(path) as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n[]\r\n0\r\n\r\n"
            b"GET /_ping HTTP/1.1\r\nConnection: close\r\n\r\n"
        )
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.count(b"HTTP/1.1 200 ") == 2
    assert _slots_free(srv, within=2)  # the slot the body took is back


def test_chunked_bodies_are_read(server: tuple[Server, str]) -> None:
    _, path = server
    status, body = _exchange(
        path,
        b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"4\r\n[1, \r\n2\r\n2]\r\n0\r\n\r\n",
    )
    assert (status, json.loads(body)) == (200, {"got": [1, 2]})


def test_streams_past_the_cap_get_503_and_ping_still_answers(
    server: tuple[Server, str],
) -> None:
    _, path = server  # max_streams=2
    streams = [_connect(path) for _ in range(3)]
    try:
        for sock in streams:
            sock.sendall(b"GET /stream HTTP/1.1\r\n\r\n")
            time.sleep(0.1)
        heads = [sock.recv(4096) for sock in streams]
        assert [h.split()[1] for h in heads] == [b"200", b"200", b"503"]
        assert _ping(path) == (200, b"OK")
    finally:
        for sock in streams:
            sock.close()


def _open_stream(path: str, head: bytes) -> socket.socket:
    sock = _connect(path)
    sock.sendall(head)
    assert sock.recv(4096).split()[1] in (b"200", b"101")
    return sock


def _slots_free(srv: Server, within: float) -> bool:
    with contextlib.suppress(AssertionError):
        wait_for(lambda: srv.workers.streams == 0, what="no stream slot taken", timeout=within)
    return srv.workers.streams == 0


@pytest.mark.parametrize(
    "head",
    [b"GET /follow HTTP/1.1\r\n\r\n", b"POST /attach HTTP/1.1\r\nConnection: Upgrade\r\n\r\n"],
    ids=["logs-follow", "attach-without-stdin"],
)
def test_streams_whose_clients_leave_give_their_slots_back(
    server: tuple[Server, str], head: bytes
) -> None:
    srv, path = server  # max_streams=2
    for sock in [_open_stream(path, head) for _ in range(2)]:
        sock.close()
    assert _slots_free(srv, within=2), f"{srv.workers.streams} slots held for departed clients"
    again = [_open_stream(path, head) for _ in range(2)]  # served, not 503
    for sock in again:
        sock.close()
    assert _slots_free(srv, within=2)


def test_a_client_that_only_half_closes_is_still_there(server: tuple[Server, str]) -> None:
    """The docker CLI closes its sending side at once when it attaches without stdin,
    and reads on: that is not leaving."""
    srv, path = server
    sock = _open_stream(path, b"POST /attach HTTP/1.1\r\nConnection: Upgrade\r\n\r\n")
    sock.shutdown(socket.SHUT_WR)
    time.sleep(0.5)
    assert srv.workers.streams == 1
    sock.close()
    assert _slots_free(srv, within=2)


def test_a_client_that_stops_reading_is_cut_after_the_send_timeout(
    server: tuple[Server, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    srv, path = server
    monkeypatch.setattr(http, "SEND_TIMEOUT", 0.5)
    with _connect(path) as sock:
        sock.sendall(b"GET /flood HTTP/1.1\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 200 ")  # then nothing more is read
        assert _slots_free(srv, within=5)


@pytest.mark.parametrize("descriptors", [256, 1024, 4096, 20000, 1 << 20])
def test_connections_and_streams_fit_in_the_descriptors(descriptors: int) -> None:
    bounds = Limits.for_descriptors(descriptors)
    held = (
        limits.RESERVED
        + bounds.parked
        + bounds.requests * limits.PER_REQUEST
        + bounds.streams * limits.PER_STREAM
    )
    assert held <= descriptors or bounds.streams == limits.MIN_STREAMS  # fits
    room = descriptors - held >= limits.PER_STREAM
    assert not room or bounds.streams == workers.MAX_STREAMS  # and takes what is left


def test_the_usual_soft_limit_is_raised_to_the_hard_one() -> None:
    """A daemon started from a shell with soft 1024 would serve 96 streams, not 512."""
    assert Limits.for_descriptors(1024).streams == 96
    assert Limits.for_descriptors(1 << 20).streams == workers.MAX_STREAMS
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    script = (
        "import resource\n"
        f"resource.setrlimit(resource.RLIMIT_NOFILE, (256, {hard}))\n"
        "from lamina.api.limits import raise_nofile\n"
        "print(raise_nofile(), resource.getrlimit(resource.RLIMIT_NOFILE)[0])\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.split() == [str(hard), str(hard)]


def test_bodies_that_do_not_come_do_not_starve_ping() -> None:
    """Clients that announce a body over the pre-buffer, or expect a 100 Continue, and
    send nothing: they take stream slots (or a 503 when none is left), never the
    request threads that /_ping needs."""
    with _running(Limits(parked=256, requests=2, streams=6)) as (srv, path):
        waiting = [_connect(path) for _ in range(8)]
        try:
            for i, sock in enumerate(waiting):
                head = b"POST /echo HTTP/1.1\r\nContent-Length: %d\r\n" % (100_000 + i)
                sock.sendall(head + (b"Expect: 100-continue\r\n\r\n" if i % 2 else b"\r\n"))
            time.sleep(0.3)
            start = time.monotonic()
            assert _ping(path) == (200, b"OK")
            assert time.monotonic() - start < 2
            assert srv.workers.streams == 6
            refused = [sock for sock in waiting if _status_now(sock) == b"503"]
            assert len(refused) == 2  # past the stream slots: answered, not queued
        finally:
            for sock in waiting:
                sock.close()


def _status_now(sock: socket.socket) -> bytes:
    """The status of what the server has answered so far, without waiting."""
    sock.setblocking(False)
    try:
        return sock.recv(12)[9:]
    except BlockingIOError:
        return b""
    finally:
        sock.settimeout(10)


def test_a_small_body_after_100_continue_is_read_by_the_reactor(
    server: tuple[Server, str],
) -> None:
    _, path = server
    with _connect(path) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nContent-Length: 8\r\nExpect: 100-continue\r\n\r\n")
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b'{"a": 1}')
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b'{"got": {"a": 1}}\n')
    assert b"100 Continue" not in answer


def test_a_json_body_has_a_deadline_for_all_of_it(
    server: tuple[Server, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A byte every 0.2 s never waits a receive timeout out; the body's deadline ends it."""
    _, path = server
    monkeypatch.setattr(http, "BODY_TIMEOUT", 1.0)
    body = b'{"a": "' + b"x" * 100_000 + b'"}'
    with _connect(path) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(body))
        sock.sendall(body[:70_000])
        start = time.monotonic()
        sock.setblocking(False)
        answer = b""
        for byte in body[70_000:]:
            with contextlib.suppress(BlockingIOError):
                answer += sock.recv(4096)
            if answer:
                break
            with contextlib.suppress(OSError):
                sock.send(bytes([byte]))
            time.sleep(0.2)
    assert answer.startswith(b"HTTP/1.1 400 "), answer
    assert b"not all of it came in time" in answer
    assert time.monotonic() - start < 3


def test_a_stream_cleans_up_when_it_never_begins(server: tuple[Server, str]) -> None:
    srv, path = server  # max_streams=2
    folder = Path(path).parent
    followers = [_open_stream(path, b"GET /follow HTTP/1.1\r\n\r\n") for _ in range(2)]
    try:
        status, _ = _exchange(path, b"POST /tidy HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")
        assert status == 503
        assert not (folder / "made").exists()
    finally:
        for sock in followers:
            sock.close()
    assert _slots_free(srv, within=2)
    with _connect(path) as sock:  # a client gone before the first byte of the answer
        sock.sendall(b"POST /tidy HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")
    wait_for(lambda: not (folder / "made").exists(), what="the handler's cleanup", timeout=2)
    assert _exchange(path, b"POST /tidy HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")[0] == 200
    assert not (folder / "made").exists()  # and when it ends as it should
