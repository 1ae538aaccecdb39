"""The userland proxy for published ports: `python -m lamina.networks.proxy`.

    python -m lamina.networks.proxy STATE_FILE TARGET_IP FD:PROTO:PORT ...

One process per container, started by the daemon with the host sockets already bound
(inherited file descriptors), so it outlives a daemon restart as the container does.
STATE_FILE is only a label: the path of the state file the daemon writes for it
(`<run>/ports/<id>.json`, publish.py), so a restarted daemon finds a proxy by its
command line even when a crash came before that file was written.
TCP is copied with splice(2) through a pipe, never through Python buffers; UDP keeps
one connected socket per client. Ends on SIGTERM. Standard library only: it must start
fast and hold little.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import sys
import threading

CHUNK = 1 << 20
F_SETPIPE_SZ = 1031
UDP_IDLE = 60.0


def main(argv: list[str]) -> int:
    target = argv[1]  # argv[0]: the state file that names this proxy, for the daemon
    for spec in argv[2:]:
        fd, proto, port = spec.split(":")
        kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
        listener = socket.socket(socket.AF_INET, kind, fileno=int(fd))
        serve = _serve_tcp if proto == "tcp" else _serve_udp
        threading.Thread(target=serve, args=(listener, (target, int(port))), daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    while True:
        signal.pause()


def _serve_tcp(listener: socket.socket, target: tuple[str, int]) -> None:
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            continue
        threading.Thread(target=_connect, args=(client, target), daemon=True).start()


def _connect(client: socket.socket, target: tuple[str, int]) -> None:
    try:
        upstream = socket.create_connection(target, timeout=10)
    except OSError:
        client.close()  # as docker-proxy: the client sees the connection closed
        return
    upstream.settimeout(None)
    for s in (client, upstream):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
    back.start()
    _pump(client, upstream)
    back.join()
    client.close()
    upstream.close()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    """Copy until EOF, then pass the EOF on (half-close), as a TCP proxy must."""
    r, w = os.pipe()
    with contextlib.suppress(OSError):
        fcntl.fcntl(w, F_SETPIPE_SZ, CHUNK)
    try:
        while True:
            moved = os.splice(src.fileno(), w, CHUNK)
            if moved == 0:
                break
            while moved:
                moved -= os.splice(r, dst.fileno(), moved)
    except OSError:
        pass
    finally:
        os.close(r)
        os.close(w)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


def _serve_udp(listener: socket.socket, target: tuple[str, int]) -> None:
    clients: dict[tuple[str, int], socket.socket] = {}
    lock = threading.Lock()

    def replies(up: socket.socket, client: tuple[str, int]) -> None:
        try:
            while True:
                listener.sendto(up.recv(65535), client)
        except OSError:  # idle timeout or closed
            pass
        finally:
            with lock:
                clients.pop(client, None)
            up.close()

    while True:
        data, client = listener.recvfrom(65535)
        with lock:
            up = clients.get(client)
            if up is None:
                up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                up.settimeout(UDP_IDLE)
                up.connect(target)
                clients[client] = up
                threading.Thread(target=replies, args=(up, client), daemon=True).start()
        with contextlib.suppress(OSError):
            up.send(data)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
