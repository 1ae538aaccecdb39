"""The DNS server containers on user-defined networks ask, at 127.0.0.11:53 (as Docker).

One thread in the daemon serves every container: for each, a UDP socket bound to
127.0.0.11:53 *inside the container's network namespace* (made by a thread that
entered it; a socket stays in the namespace it was made in). So the resolver knows who
asks by the socket the query came on, needs no address on the host, no firewall hole,
and works on --internal networks. Names it does not know get NXDOMAIN: lamina gives
containers no route off the host, so it forwards nothing either.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from lamina.networks import dnswire, netns
from lamina.networks.names import NameTable

ADDRESS = "127.0.0.11"
Log = Callable[[str], None]


class Resolver:
    def __init__(self, names: NameTable, *, log: Log = lambda _m: None) -> None:
        self.names = names
        self.log = log
        self._lock = threading.Lock()
        self._sockets: dict[str, socket.socket] = {}
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._thread: threading.Thread | None = None
        self._closed = False

    def serve(self, container_id: str, namespace: Path) -> None:
        """Answer queries from the container whose namespace is at `namespace`."""
        sock = netns.run_in(namespace, _bind)
        with self._lock:
            self._drop(container_id)
            self._sockets[container_id] = sock
            self._selector.register(sock, selectors.EVENT_READ, container_id)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="dns", daemon=True)
                self._thread.start()

    def stop(self, container_id: str) -> None:
        with self._lock:
            self._drop(container_id)

    def serving(self) -> list[str]:
        with self._lock:
            return list(self._sockets)

    def close(self) -> None:
        with self._lock:
            for cid in list(self._sockets):
                self._drop(cid)
            self._closed = True
        self._wake_w.send(b"x")
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._wake_r.close()
        self._wake_w.close()

    def _drop(self, container_id: str) -> None:
        # Closing the socket also lets go of the namespace it holds.
        sock = self._sockets.pop(container_id, None)
        if sock is not None:
            self._selector.unregister(sock)
            sock.close()

    def _loop(self) -> None:
        while not self._closed:
            for key, _ in self._selector.select(timeout=1.0):
                if key.data is None:
                    with contextlib.suppress(OSError):
                        self._wake_r.recv(64)
                    continue
                self._handle(key.data, key.fileobj)  # type: ignore[arg-type]

    def _handle(self, container_id: str, sock: socket.socket) -> None:
        with self._lock:
            if self._sockets.get(container_id) is not sock:
                return  # closed meanwhile
            try:
                packet, peer = sock.recvfrom(4096)
            except OSError:
                return
        reply = self.answer(container_id, packet)
        if reply:
            with contextlib.suppress(OSError):
                sock.sendto(reply, peer)

    def answer(self, container_id: str, packet: bytes) -> bytes | None:
        try:
            q = dnswire.parse_query(packet)
        except dnswire.DnsFormatError:
            return None
        if q.qclass != dnswire.CLASS_IN:
            return dnswire.answer(q, dnswire.NOTIMP)
        if q.qtype == dnswire.TYPE_PTR:
            address = dnswire.reverse_address(q.name)
            fqdn = self.names.reverse(container_id, address) if address else None
            if fqdn is None:
                return dnswire.answer(q, dnswire.NXDOMAIN)
            return dnswire.answer(q, dnswire.NOERROR, [dnswire.ptr_record(fqdn)])
        found = self.names.lookup(container_id, q.name)
        if not found:
            return dnswire.answer(q, dnswire.NXDOMAIN)
        if q.qtype in (dnswire.TYPE_A, 255):  # A or ANY
            return dnswire.answer(q, dnswire.NOERROR, [dnswire.a_record(a) for a in found])
        return dnswire.answer(q, dnswire.NOERROR)  # the name exists, with no such record


def _bind() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    sock.bind((ADDRESS, 53))
    return sock
