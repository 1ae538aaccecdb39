"""Attach clients: the process's output fanned out to each, their input to its stdin.

Protocol (one unix stream socket per monitor, `attach.sock`):

1. The client sends one JSON line: `{"stdin": bool, "stdout": bool, "stderr": bool,
   "logs": bool}` (`lamina.containers.monitor.stdio.AttachRequest`). `logs` is not served here:
   the daemon replays the log file itself, then copies the live stream.
2. The monitor sends the live output from then on: without a TTY as Docker's
   multiplexed frames (stream 1 stdout, 2 stderr), with a TTY as raw bytes.
3. With `stdin`, every byte the client sends after its request line goes to the
   process's stdin. When such a client shuts down its sending side (EOF) and the
   monitor runs with `--stdin-once`, the process's stdin is closed: this is how
   `echo hi | docker run -i busybox cat` ends. The client may keep reading output.
4. When the process has exited and its output is drained, the monitor closes every
   client: EOF on the socket means "no more output"; the exit code is in the state
   file (or the control socket's `wait` reply).

Any number of clients may attach. Output is never held back for a client: each has
its own queue of at most `CLIENT_QUEUE` bytes, and a client that falls that far behind
is disconnected (a gap in a multiplexed stream would be worse than its end). The log
file always gets everything.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

from lamina.containers.monitor.loop import SocketChannel, Writer
from lamina.containers.monitor.notes import note
from lamina.containers.monitor.stdio import STDOUT, AttachRequest, encode_frame
from lamina.errors import InvalidArgument

CLIENT_QUEUE = 4 * 1024 * 1024
MAX_REQUEST = 4096


class AttachClient(SocketChannel):
    def __init__(self, sock: socket.socket, hub: AttachHub) -> None:
        super().__init__(sock, limit=CLIENT_QUEUE)
        self.request: AttachRequest | None = None
        self._hub = hub
        self._line = bytearray()

    def wants_input(self) -> bool:
        if not super().wants_input():
            return False
        if self.request is not None and self.request.stdin:
            return self._hub.stdin_has_room()
        return True  # the request line, or reading only to notice the client leaving

    def wants(self, stream: int) -> bool:
        request = self.request
        return request is not None and (request.stdout if stream == STDOUT else request.stderr)

    def on_data(self, data: bytes) -> None:
        if self.request is None:
            self._line += data
            end = self._line.find(b"\n")
            if end < 0:
                if len(self._line) > MAX_REQUEST:
                    self.close()
                return
            data = bytes(self._line[end + 1 :])
            self._accept_request(bytes(self._line[:end]))
        if data and self.request is not None and self.request.stdin:
            self._hub.feed_stdin(data)

    def on_eof(self) -> None:
        request = self.request
        if request is None or not (request.stdout or request.stderr):
            self.finish()
        if request is not None and request.stdin:
            self._hub.stdin_ended()

    def _accept_request(self, line: bytes) -> None:
        try:
            self.request = AttachRequest.decode(line)
        except InvalidArgument as err:
            note(f"attach refused: {err}")
            self.close()
            return
        self._hub.attached(self)


class AttachHub:
    """The attached clients of one monitor, and the process's stdin they share."""

    def __init__(self, *, tty: bool, stdin_once: bool, on_first_attach: Callable[[], None]) -> None:
        self.clients: list[AttachClient] = []
        self.stdin: Writer | None = None
        self._tty = tty
        self._stdin_once = stdin_once
        self._on_first_attach: Callable[[], None] | None = on_first_attach

    def connect(self, sock: socket.socket) -> AttachClient:
        return AttachClient(sock, self)

    def attached(self, client: AttachClient) -> None:
        self.clients.append(client)
        first, self._on_first_attach = self._on_first_attach, None
        if first is not None:
            first()

    def broadcast(self, stream: int, data: bytes) -> None:
        if not self.clients:
            return
        payload = data if self._tty else encode_frame(stream, data)
        for client in self.clients:
            if client.closed or not client.wants(stream):
                continue
            if not client.queue(payload):
                note(f"attach client fell behind by {CLIENT_QUEUE} bytes; disconnected")
                client.close()
        self.clients = [c for c in self.clients if not c.closed]

    def stdin_has_room(self) -> bool:
        # With no stdin to feed, input is read and dropped rather than left to pile up.
        return self.stdin is None or self.stdin.closed or self.stdin.has_room

    def feed_stdin(self, data: bytes) -> None:
        if self.stdin is not None:
            self.stdin.feed(data)

    def stdin_ended(self) -> None:
        if self._stdin_once:
            self.close_stdin()

    def close_stdin(self) -> None:
        if self.stdin is not None:
            self.stdin.close_when_drained()

    def finish_all(self) -> None:
        for client in self.clients:
            client.finish()
