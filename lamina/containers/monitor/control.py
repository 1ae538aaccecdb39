"""The control socket: small requests from the daemon, one JSON line each way.

    {"op": "resize", "height": 30, "width": 100}   set the pty's window size
    {"op": "close-stdin"}                          close the process's stdin
    {"op": "start"}                                start a --wait-attach process now (no-op
                                                   if it started already)
    {"op": "wait"}                                 reply only once the monitor is done:
                                                   {"ok": true, "state": {...final state}}

Every other reply is `{"ok": true}` or `{"ok": false, "error": "..."}`. A connection
may carry any number of requests; `wait` is how a daemon (or a new daemon adopting
the container) learns of the exit without polling the state file. A waiter keeps its
side of the connection open: EOF from it cancels the wait.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from typing import Any

from lamina.containers.monitor.loop import SocketChannel
from lamina.errors import LaminaError

MAX_LINE = 65536
Reply = dict[str, Any]
Handler = Callable[[dict[str, Any]], None]


class ControlConn(SocketChannel):
    def __init__(self, sock: socket.socket, server: ControlServer) -> None:
        super().__init__(sock, limit=MAX_LINE)
        self._server = server
        self._line = bytearray()

    def on_data(self, data: bytes) -> None:
        self._line += data
        while (end := self._line.find(b"\n")) >= 0:
            line = bytes(self._line[:end])
            del self._line[: end + 1]
            self._server.handle(self, line)
        if len(self._line) > MAX_LINE:
            self.close()

    def on_eof(self) -> None:
        # EOF from a waiter cancels its wait (else every abandoned `docker wait` would
        # hold a descriptor until the container exits).
        self._server.cancel(self)
        self.finish()

    def reply(self, doc: Reply) -> None:
        if not self.queue(json.dumps(doc).encode() + b"\n"):
            self.close()


class ControlServer:
    """Dispatches control requests to `handlers` (op name → function of the request)."""

    def __init__(self, handlers: dict[str, Handler]) -> None:
        self.waiters: list[ControlConn] = []
        self._handlers = handlers
        self._final: Reply | None = None

    def connect(self, sock: socket.socket) -> ControlConn:
        return ControlConn(sock, self)

    def handle(self, conn: ControlConn, line: bytes) -> None:
        try:
            request = json.loads(line)
            op = request["op"]
        except (ValueError, KeyError, TypeError):
            conn.reply({"ok": False, "error": f"bad control request: {line[:200]!r}"})
            return
        if op == "wait":
            self._wait(conn)
            return
        handler = self._handlers.get(op)
        if handler is None:
            conn.reply({"ok": False, "error": f"unknown control op {op!r}"})
            return
        try:
            handler(request)
        except (LaminaError, OSError, ValueError, KeyError, TypeError) as err:
            conn.reply({"ok": False, "error": str(err) or type(err).__name__})
            return
        conn.reply({"ok": True})

    def notify(self, state: dict[str, Any]) -> list[ControlConn]:
        """The monitor is done: answer every waiter (and later ones); returns the answered."""
        self._final = {"ok": True, "state": state}
        answered, self.waiters = self.waiters, []
        for conn in answered:
            conn.reply(self._final)
            conn.finish()
        return answered

    def cancel(self, conn: ControlConn) -> None:
        if conn in self.waiters:
            self.waiters.remove(conn)

    def _wait(self, conn: ControlConn) -> None:
        if self._final is not None:
            conn.reply(self._final)
        else:
            self.waiters.append(conn)
