"""`run`, `start -a` and `attach` see the exit of a container that ends at once.

The fake daemon here is slow to register a wait, and registers it as dockerd (and
lamina) do: before it sends the answer's head, fixing then which exit it waits for. It
holds each wait back until the container's exit is under way (a start, or the line an
attached container reads before it exits) or for HOLD seconds. A CLI that starts the
container, or sends it input, before it has the wait's head has its container exit
before the wait exists: that wait never ends (here: the fake gives up after GIVE_UP
and the CLI reports 125). A CLI that reads the head first starts after HOLD and gets
the exit code.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from lamina.cli.main import main

HOLD = 0.3  # seconds a wait's registration is held back, absent a start or an input
GIVE_UP = 5.0  # seconds the fake answers a wait that never ends, by closing it
CID = "c" * 64


class FakeContainer:
    """A container that ends as soon as it starts, or (talker) on its first input line."""

    def __init__(self, *, running: bool, talker: bool) -> None:
        self.running = running
        self.talker = talker
        self.exit_code = 0
        self.exits = 0
        self.changed = threading.Condition()
        self.ending = threading.Event()  # a start or an input: the exit is under way
        self.events: list[str] = []

    def end(self, code: int) -> None:
        with self.changed:
            self.running = False
            self.exit_code = code
            self.exits += 1
            self.changed.notify_all()

    def inspect(self) -> dict[str, object]:
        return {
            "Id": CID,
            "Config": {"Tty": False, "OpenStdin": self.talker},
            "HostConfig": {"AutoRemove": False},
            "State": {"Running": self.running, "Paused": False, "Restarting": False},
        }


class FakeDaemon:
    def __init__(self, path: str, container: FakeContainer) -> None:
        self.container = container
        self.server = socket.socket(socket.AF_UNIX)
        self.server.bind(path)
        self.server.listen()
        self.threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def close(self) -> None:
        self.server.shutdown(socket.SHUT_RDWR)
        self.server.close()
        self._accepting.join(timeout=5)
        for thread in self.threads:
            thread.join(timeout=GIVE_UP + 5)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            method, path, query = read_request(conn)
            c = self.container
            c.events.append(f"{method} {path.rsplit('/', 1)[-1]}")
            if path.endswith("/json"):
                conn.sendall(answer(200, c.inspect()))
            elif path.endswith("/create"):
                conn.sendall(answer(201, {"Id": CID, "Warnings": []}))
            elif path.endswith("/start"):
                c.ending.set()
                c.end(5)
                conn.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
            elif path.endswith("/wait"):
                self._wait(conn, query.get("condition", ["not-running"])[0])
            elif path.endswith("/attach"):
                self._attach(conn)

    def _wait(self, conn: socket.socket, condition: str) -> None:
        c = self.container
        c.ending.wait(HOLD)  # slow to register
        with c.changed:
            seen = c.exits
            met = condition == "not-running" and not c.running
        c.events.append("wait registered")
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        with c.changed:
            if not met and not c.changed.wait_for(lambda: c.exits > seen, GIVE_UP):
                return  # a wait that would never end
            body = json.dumps({"StatusCode": c.exit_code, "Error": None}).encode() + b"\n"
        conn.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))

    def _attach(self, conn: socket.socket) -> None:
        c = self.container
        conn.sendall(b"HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
        said = b"hi\n"
        if c.talker:
            line = b""
            while not line.endswith(b"\n") and (data := conn.recv(1024)):
                line += data
            said = b"got " + line
            c.ending.set()
            c.end(3)
        with c.changed:
            c.changed.wait_for(lambda: c.exits > 0, GIVE_UP)
        conn.sendall(struct.pack(">BxxxI", 1, len(said)) + said)


def read_request(conn: socket.socket) -> tuple[str, str, dict[str, list[str]]]:
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    length = next(
        (int(v) for k, _, v in (x.partition(": ") for x in lines) if k.lower() == "content-length"),
        0,
    )
    while len(rest) < length:
        rest += conn.recv(65536)
    method, target, _ = lines[0].split(" ", 2)
    url = urlsplit(target)
    return method, url.path, parse_qs(url.query)


def answer(status: int, data: object) -> bytes:
    body = json.dumps(data).encode()
    return b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
        status,
        len(body),
        body,
    )


def serve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, container: FakeContainer
) -> Iterator[FakeContainer]:
    path = str(tmp_path / "d.sock")
    daemon = FakeDaemon(path, container)
    monkeypatch.setenv("LAMINA_HOST", f"unix://{path}")
    monkeypatch.setenv("LAMINA_ROOT", str(tmp_path / "root"))
    monkeypatch.setenv("LAMINA_NO_AUTOSTART", "1")
    try:
        yield container
    finally:
        daemon.close()


@pytest.fixture
def created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeContainer]:
    yield from serve(tmp_path, monkeypatch, FakeContainer(running=False, talker=False))


@pytest.fixture
def talker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeContainer]:
    """A running container that exits (3) once it has read a line of its stdin."""
    read, write = os.pipe()
    os.write(write, b"hello\n")
    os.close(write)
    with os.fdopen(read, "rb") as stdin:
        monkeypatch.setattr("sys.stdin", stdin)
        yield from serve(tmp_path, monkeypatch, FakeContainer(running=True, talker=True))


def test_run_starts_only_once_its_wait_is_registered(
    created: FakeContainer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "busybox", "true"]) == 5, capsys.readouterr().err
    assert capsys.readouterr().out == "hi\n"
    assert created.events.index("wait registered") < created.events.index("POST start")


def test_start_attached_starts_only_once_its_wait_is_registered(
    created: FakeContainer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["start", "-a", "c1"]) == 5, capsys.readouterr().err
    assert capsys.readouterr().out == "hi\n"
    assert created.events.index("wait registered") < created.events.index("POST start")


def test_attach_sends_input_only_once_its_wait_is_registered(
    talker: FakeContainer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["attach", "talker"]) == 3, capsys.readouterr().err
    assert capsys.readouterr().out == "got hello\n"
    assert talker.events.index("wait registered") < talker.events.index("POST attach")
