"""A stream that ends without its final message is an error on the CLI, never a success.

A fake daemon on a unix socket answers as a killed one would: it cuts a chunked stream
mid-way, ends it cleanly but early, or closes the connection during the upload.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lamina.cli.main import main

Handler = Callable[[socket.socket], None]
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"


def chunk(message: dict[str, object]) -> bytes:
    data = json.dumps(message).encode() + b"\r\n"
    return b"%x\r\n%s\r\n" % (len(data), data)


def read_request(conn: socket.socket, *, body_bytes: int | None = None) -> None:
    """Read the head and, unless `body_bytes` says to stop early, the whole body."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    if body_bytes is not None:
        while len(rest) < body_bytes:
            rest += conn.recv(65536)
        return
    if b"chunked" in head.lower():
        while not rest.endswith(b"0\r\n\r\n"):
            rest += conn.recv(1 << 20)


@pytest.fixture
def fake_daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Handler]]:
    """Serve each connection with the next handler the test appends."""
    path = str(tmp_path / "d.sock")
    handlers: list[Handler] = []
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen()

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                handlers.pop(0)(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    monkeypatch.setenv("LAMINA_HOST", f"unix://{path}")
    monkeypatch.setenv("LAMINA_ROOT", str(tmp_path / "root"))
    monkeypatch.setenv("LAMINA_NO_AUTOSTART", "1")
    yield handlers
    server.shutdown(socket.SHUT_RDWR)  # wakes the accept() (close alone would not)
    server.close()
    thread.join(timeout=5)


@pytest.fixture
def tar_file(tmp_path: Path) -> str:
    path = tmp_path / "rootfs.tar"
    path.write_bytes(b"\0" * (4 << 20))  # larger than the socket buffers
    return str(path)


def cut_mid_stream(conn: socket.socket) -> None:
    read_request(conn)
    conn.sendall(HEAD + chunk({"status": "importing"}))


def ended_early(conn: socket.socket) -> None:
    read_request(conn)
    conn.sendall(HEAD + chunk({"status": "importing"}) + b"0\r\n\r\n")


def closed_during_upload(conn: socket.socket) -> None:
    read_request(conn, body_bytes=1024)
    conn.shutdown(socket.SHUT_RDWR)


def finished(conn: socket.socket) -> None:
    read_request(conn)
    conn.sendall(HEAD + chunk({"status": "sha256:" + "a" * 64}) + b"0\r\n\r\n")


@pytest.mark.parametrize("handler", [cut_mid_stream, ended_early, closed_during_upload])
def test_import_cut_short_is_an_error(
    fake_daemon: list[Handler],
    tar_file: str,
    handler: Handler,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake_daemon.append(handler)
    assert main(["import", tar_file, "x"]) == 1
    err = capsys.readouterr().err
    assert "error: the daemon closed the stream before the import finished" in err


def test_import_with_its_final_message_succeeds(
    fake_daemon: list[Handler], tar_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_daemon.append(finished)
    assert main(["import", tar_file, "x"]) == 0
    assert capsys.readouterr().out.strip() == "sha256:" + "a" * 64


def test_bootstrap_cut_short_is_an_error(
    fake_daemon: list[Handler], capsys: pytest.CaptureFixture[str]
) -> None:
    fake_daemon.append(ended_early)
    assert main(["image", "bootstrap", "busybox"]) == 1
    err = capsys.readouterr().err
    assert "error: the daemon closed the stream before the bootstrap finished" in err


@pytest.mark.parametrize("handler", [cut_mid_stream, ended_early])
def test_build_cut_short_is_an_error(
    fake_daemon: list[Handler],
    tmp_path: Path,
    handler: Handler,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    fake_daemon.append(handler)
    assert main(["build", "--progress", "plain", str(tmp_path)]) == 1
    # BuildKit's capitals, as the build's own errors print (docs/crashes.md, promise 5).
    last = capsys.readouterr().err.splitlines()[-1]
    assert last == "ERROR: the daemon closed the stream before the build finished"


def test_a_cut_answer_is_an_error_for_any_command(
    fake_daemon: list[Handler], capsys: pytest.CaptureFixture[str]
) -> None:
    def inspected(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{}")

    fake_daemon.append(inspected)
    assert main(["image", "inspect", "x"]) == 1
    assert "error: the daemon closed the stream before it ended" in capsys.readouterr().err


def test_no_answer_at_all_is_an_error(
    fake_daemon: list[Handler], capsys: pytest.CaptureFixture[str]
) -> None:
    fake_daemon.append(lambda conn: read_request(conn))
    assert main(["images"]) == 1
    assert "error: the daemon closed the connection without answering" in capsys.readouterr().err
