"""The userland proxy process on loopback: TCP (with half-close) and UDP."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest


def _echo_tcp(server: socket.socket) -> None:
    conn, _ = server.accept()
    data = b""
    while chunk := conn.recv(65536):
        data += chunk
    conn.sendall(b"got %d bytes" % len(data))  # after the client's EOF came through
    conn.close()


def _echo_udp(server: socket.socket) -> None:
    data, peer = server.recvfrom(100)
    server.sendto(b"udp-" + data, peer)


@pytest.fixture
def servers() -> Iterator[tuple[socket.socket, socket.socket]]:
    tcp = socket.create_server(("127.0.0.1", 0))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", tcp.getsockname()[1]))
    yield tcp, udp
    tcp.close()
    udp.close()


def test_proxy_copies_tcp_and_udp(servers: tuple[socket.socket, socket.socket]) -> None:
    tcp, udp = servers
    port = tcp.getsockname()[1]
    threading.Thread(target=_echo_tcp, args=(tcp,), daemon=True).start()
    threading.Thread(target=_echo_udp, args=(udp,), daemon=True).start()
    front_tcp = socket.create_server(("127.0.0.1", 0))
    front_udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    front_udp.bind(("127.0.0.1", 0))
    specs = [f"{front_tcp.fileno()}:tcp:{port}", f"{front_udp.fileno()}:udp:{port}"]
    proxy = subprocess.Popen(
        [sys.executable, "-m", "lamina.networks.proxy", "/run/x/ports/c.json", "127.0.0.1", *specs],
        pass_fds=[front_tcp.fileno(), front_udp.fileno()],
    )
    try:
        payload = b"x" * (3 << 20)
        with socket.create_connection(front_tcp.getsockname(), timeout=10) as client:
            client.sendall(payload)
            client.shutdown(socket.SHUT_WR)
            assert client.recv(100) == b"got %d bytes" % len(payload)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.settimeout(10)
            client.sendto(b"hi", front_udp.getsockname())
            assert client.recv(100) == b"udp-hi"
    finally:
        proxy.terminate()
        proxy.wait(timeout=10)
        front_tcp.close()
        front_udp.close()
