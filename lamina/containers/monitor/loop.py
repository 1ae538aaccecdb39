"""The monitor's event loop: one thread, one selector, a channel per file descriptor.

selectors (epoll) rather than asyncio: the monitor runs once per container for the
container's whole life, so what it imports is paid for many times over; asyncio alone
would add several megabytes of resident memory.

A channel says what it waits for (`interest`) and reacts (`on_readable`/`on_writable`).
`close()` only marks it: the reactor unregisters the descriptor *before* releasing it,
so a number the kernel hands out again can never meet a stale registration.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
from collections.abc import Callable

READ = selectors.EVENT_READ
WRITE = selectors.EVENT_WRITE
CHUNK = 65536


class Channel:
    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.closed = False

    def fileno(self) -> int:
        return self.fd

    def interest(self) -> int:
        return 0

    def on_readable(self) -> None:
        """Called when the descriptor is readable (or hung up: read to find out)."""

    def on_writable(self) -> None:
        """Called when the descriptor is writable (or in error: write to find out)."""

    def close(self) -> None:
        self.closed = True

    def release(self) -> None:
        os.close(self.fd)


class Reactor:
    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._channels: list[Channel] = []
        self._registered: dict[Channel, int] = {}

    def add(self, channel: Channel) -> None:
        self._channels.append(channel)

    def poll(self, timeout: float | None) -> None:
        self._sync()
        for key, mask in self._selector.select(timeout):
            channel: Channel = key.data
            if mask & READ and not channel.closed:
                channel.on_readable()
            if mask & WRITE and not channel.closed:
                channel.on_writable()
        self._sync()

    def close_all(self) -> None:
        for channel in self._channels:
            channel.close()
        self._sync()

    def _sync(self) -> None:
        kept = []
        for channel in self._channels:
            want = 0 if channel.closed else channel.interest()
            have = self._registered.get(channel, 0)
            if want != have:
                self._update(channel, have, want)
            if channel.closed:
                channel.release()
            else:
                kept.append(channel)
        self._channels = kept

    def _update(self, channel: Channel, have: int, want: int) -> None:
        if not have:
            self._selector.register(channel, want, channel)
        elif not want:
            self._selector.unregister(channel)
        else:
            self._selector.modify(channel, want, channel)
        if want:
            self._registered[channel] = want
        else:
            self._registered.pop(channel, None)


class Reader(Channel):
    """A pipe or pty master carrying output: each chunk goes to `on_data`, EOF closes it."""

    def __init__(self, fd: int, on_data: Callable[[bytes], None]) -> None:
        super().__init__(fd)
        os.set_blocking(fd, False)
        self._on_data = on_data

    def interest(self) -> int:
        return READ

    def on_readable(self) -> None:
        try:
            data = os.read(self.fd, CHUNK)
        except BlockingIOError:
            return
        except OSError:
            # A pty master reads EIO once every slave descriptor is closed: that is EOF.
            data = b""
        if data:
            self._on_data(data)
        else:
            self.close()

    def drain(self) -> None:
        """Pass on whatever is buffered now, without waiting (before the final close)."""
        while not self.closed:
            try:
                data = os.read(self.fd, CHUNK)
            except OSError:
                return
            if not data:
                self.close()
                return
            self._on_data(data)

    def discard(self) -> None:
        """Drop whatever is buffered now, without waiting."""
        with contextlib.suppress(OSError):
            while os.read(self.fd, CHUNK):
                pass


class Writer(Channel):
    """The process's stdin (a pipe, or a duplicate of the pty master), with a bounded buffer.

    Clients' input is only read while there is room, so a process that does not read
    its stdin slows the client that types, never the monitor.
    """

    def __init__(self, fd: int, *, limit: int = CHUNK) -> None:
        super().__init__(fd)
        os.set_blocking(fd, False)
        self._pending = bytearray()
        self._limit = limit
        self._closing = False

    @property
    def has_room(self) -> bool:
        return not self.closed and not self._closing and len(self._pending) < self._limit

    def feed(self, data: bytes) -> None:
        if not self.closed and not self._closing:
            self._pending += data

    def close_when_drained(self) -> None:
        self._closing = True
        if not self._pending:
            self.close()

    def interest(self) -> int:
        return WRITE if self._pending else 0

    def on_writable(self) -> None:
        try:
            written = os.write(self.fd, self._pending)
        except BlockingIOError:
            return
        except OSError:  # the process closed its stdin (EPIPE) or exited
            self._pending.clear()
            self.close()
            return
        del self._pending[:written]
        if self._closing and not self._pending:
            self.close()


class SocketChannel(Channel):
    """A client connection: data in goes to `on_data`; data out is queued with a bound."""

    def __init__(self, sock: socket.socket, *, limit: int) -> None:
        sock.setblocking(False)
        super().__init__(sock.fileno())
        self.sock = sock
        self.eof = False
        self._out = bytearray()
        self._limit = limit
        self._finishing = False

    def wants_input(self) -> bool:
        return not self.eof and not self._finishing

    def interest(self) -> int:
        return (READ if self.wants_input() else 0) | (WRITE if self._out else 0)

    def queue(self, data: bytes) -> bool:
        """Queue `data` for the peer; False (nothing queued) when it would pass the bound."""
        if self.closed or len(self._out) + len(data) > self._limit:
            return False
        self._out += data
        return True

    def finish(self) -> None:
        """Close once the queued bytes are sent."""
        self._finishing = True
        if not self._out:
            self.close()

    def on_readable(self) -> None:
        try:
            data = self.sock.recv(CHUNK)
        except BlockingIOError:
            return
        except OSError:
            self.close()
            return
        if data:
            self.on_data(data)
        else:
            self.eof = True
            self.on_eof()

    def on_writable(self) -> None:
        try:
            sent = self.sock.send(self._out)
        except BlockingIOError:
            return
        except OSError:  # the peer went away
            self._out.clear()
            self.close()
            return
        del self._out[:sent]
        if self._finishing and not self._out:
            self.close()

    def on_data(self, data: bytes) -> None:
        """Bytes from the peer."""

    def on_eof(self) -> None:
        """The peer shut down its sending side; it may still be reading."""

    def release(self) -> None:
        self.sock.close()


class Listener(Channel):
    """A listening unix socket; each accepted connection goes to `on_accept`."""

    def __init__(self, sock: socket.socket, on_accept: Callable[[socket.socket], None]) -> None:
        sock.setblocking(False)
        super().__init__(sock.fileno())
        self.sock = sock
        self._on_accept = on_accept

    def interest(self) -> int:
        return READ

    def on_readable(self) -> None:
        try:
            conn, _ = self.sock.accept()
        except (BlockingIOError, ConnectionAbortedError):
            return
        self._on_accept(conn)

    def release(self) -> None:
        self.sock.close()


class Wakeup(Channel):
    """The read end of the signal wakeup pipe: a byte arrives per signal (SIGCHLD)."""

    def __init__(self, fd: int, on_signal: Callable[[], None]) -> None:
        super().__init__(fd)
        self._on_signal = on_signal

    def interest(self) -> int:
        return READ

    def on_readable(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.read(self.fd, 512)
        self._on_signal()
