"""Docker's /wait: its conditions (lamina.containers.waiting), and the API's promise that
a wait is registered before its answer's head is sent.

The API tests run the real server and wait handler over a stand-in container service
that uses the real registry: it records whether the client could already read the head
when the wait was registered (a head sent first is in the client's socket by then).
"""

from __future__ import annotations

import json
import select
import socket
import threading
from types import SimpleNamespace
from typing import Any

import pytest

from lamina.containers.waiting import Condition, Wait, Waits
from lamina.errors import InvalidArgument, NotFound
from tests.support.apiserver import serving_containers

NOW = 0.01  # seconds: a settled wait answers within this


def register(waits: Waits, condition: str, *, running: bool, exit_code: int = 0) -> Wait:
    return waits.register("c", Condition.parse(condition), running=running, exit_code=exit_code)


def test_not_running_is_met_at_once_by_a_stopped_container() -> None:
    waits = Waits()
    assert register(waits, "not-running", running=False, exit_code=4).result(poll=NOW) == 4
    assert waits.count() == 0


def test_next_exit_of_a_stopped_container_is_the_exit_of_its_next_run() -> None:
    waits = Waits()
    waits.exited("c", 1)  # an exit before the wait is not the one it waits for
    wait = register(waits, "next-exit", running=False, exit_code=1)
    assert not wait.settled
    waits.exited("c", 2)
    assert wait.result(poll=NOW) == 2


@pytest.mark.parametrize("condition", ["not-running", "next-exit"])
def test_an_exit_settles_the_waits_for_an_exit(condition: str) -> None:
    waits = Waits()
    wait = register(waits, condition, running=True)
    removed = register(waits, "removed", running=True)
    waits.exited("c", 137)
    assert wait.result(poll=NOW) == 137
    assert not removed.settled and waits.count() == 1


@pytest.mark.parametrize("condition", ["not-running", "next-exit", "removed"])
def test_a_removal_settles_every_wait(condition: str) -> None:
    """As dockerd: a container removed before it ever ran has no exit to wait for."""
    waits = Waits()
    wait = register(waits, condition, running=condition != "not-running")
    waits.removed("c", 0)
    assert wait.result(poll=NOW) == 0
    assert waits.count() == 0


def test_a_wait_whose_client_left_is_forgotten() -> None:
    waits = Waits()
    wait = register(waits, "next-exit", running=True)
    assert wait.result(gone=lambda: True, poll=NOW) is None
    assert waits.count() == 0
    wait.cancel()  # again: nothing left to forget


def test_an_unknown_condition_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="invalid condition: 'soon'"):
        Condition.parse("soon")


class OneContainer:
    """The wait side of the container service, for one container "c", over the real
    registry; `client` is the test's connection, looked at when a wait registers."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.waits = Waits()
        self.running = True
        self.client: socket.socket | None = None
        self.head_came_first: list[bool] = []

    def get(self, ref: str) -> object:
        if ref != "c":
            raise NotFound(f"No such container: {ref}")
        return SimpleNamespace(id="c")

    def wait(self, ref: str, *, condition: str = "not-running", **_: object) -> Wait:
        self.get(ref)
        assert self.client is not None
        self.head_came_first.append(bool(select.select([self.client], [], [], 0)[0]))
        with self.lock:
            return register(self.waits, condition, running=self.running)

    def exit(self, code: int) -> None:
        with self.lock:
            self.running = False
            self.waits.exited("c", code)


def send_wait(service: OneContainer, path: str, target: str) -> tuple[socket.socket, bytes]:
    """A connection that sent `POST target` and read its answer's head."""
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(10)
    sock.connect(path)
    service.client = sock
    sock.sendall(f"POST /v1.45{target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(1)  # the head only: the body must stay unread
    return sock, data


def read_body(sock: socket.socket) -> Any:
    data = b""
    while not data.endswith(b"0\r\n\r\n") and (chunk := sock.recv(65536)):
        data += chunk
    size, _, rest = data.partition(b"\r\n")
    return json.loads(rest[: int(size, 16)])


def test_the_wait_is_registered_before_its_head_is_sent() -> None:
    service = OneContainer()
    with serving_containers(service, streams=4) as path:
        sock, head = send_wait(service, path, "/containers/c/wait?condition=next-exit")
        with sock:
            assert head.startswith(b"HTTP/1.1 200 ")
            assert service.head_came_first == [False]
            service.exit(7)  # the instant the client has the head: not missed
            assert read_body(sock) == {"StatusCode": 7, "Error": None}


def test_an_unknown_container_is_a_404_before_any_wait() -> None:
    service = OneContainer()
    with serving_containers(service, streams=4) as path:
        sock, head = send_wait(service, path, "/containers/nope/wait")
        sock.close()
        assert head.startswith(b"HTTP/1.1 404 ")
        assert service.waits.count() == 0


def test_a_wait_refused_for_want_of_a_stream_slot_is_forgotten() -> None:
    service = OneContainer()
    with serving_containers(service, streams=1) as path:
        held, _ = send_wait(service, path, "/containers/c/wait")
        refused, head = send_wait(service, path, "/containers/c/wait")
        with held, refused:
            assert head.startswith(b"HTTP/1.1 503 ")
            assert service.waits.count() == 1  # the first one's
