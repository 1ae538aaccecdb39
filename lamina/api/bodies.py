"""A connection's bytes, and the request bodies read from them, in bounded memory.

`Connection` is a socket and the bytes already received past what has been consumed
(the server reads a request's head, and may read past it). Body readers never read
more than they are asked for and never past the body's end: a body ended early (a
client that sent 20 of its 100 bytes and stopped) is a 400, not a shorter body, and a
peer that sends nothing for the receive timeout is one too. A body read whole (JSON)
has a deadline for all of it (`Connection.deadline`), not only for each receive: a
client sending a byte a minute would otherwise hold its reader for ever.
"""

from __future__ import annotations

import socket
import struct
import time

from lamina.errors import InvalidArgument

MAX_CHUNK_LINE = 4096  # a chunk-size line or a trailer line


class Connection:
    def __init__(self, sock: socket.socket, buffered: bytes = b"") -> None:
        self.sock = sock
        self.buffer = bytearray(buffered)
        self.deadline: float | None = None  # time.monotonic() by which reading must end

    def read_some(self, size: int) -> bytes:
        """Up to `size` bytes: what is buffered, else one receive (b"" at the end)."""
        if self.buffer:
            data = bytes(self.buffer[:size])
            del self.buffer[:size]
            return data
        self._receive_until_deadline()
        try:
            return self.sock.recv(size)
        except (BlockingIOError, TimeoutError):
            if self.deadline is not None:
                raise InvalidArgument("request body: not all of it came in time") from None
            raise InvalidArgument("request body: the client sent nothing for too long") from None
        except (ConnectionResetError, BrokenPipeError):
            return b""

    def _receive_until_deadline(self) -> None:
        if self.deadline is None:
            return
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise InvalidArgument("request body: not all of it came in time")
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval(left))

    def buffered(self, size: int) -> bool:
        """Whether the next `size` bytes were received already."""
        return len(self.buffer) >= size

    def readline(self, limit: int) -> bytes:
        """One line, its end included; InvalidArgument past `limit` bytes."""
        while b"\n" not in self.buffer:
            if len(self.buffer) > limit:
                raise InvalidArgument("request body: a chunk line is too long")
            data = self.read_some(65536)
            if not data:
                break
            self.buffer += data
        end = self.buffer.find(b"\n") + 1 or len(self.buffer)
        line = bytes(self.buffer[:end])
        del self.buffer[:end]
        return line


class Body:
    """A request body as a read-only stream (tar extraction reads it in chunks)."""

    def read(self, size: int = -1) -> bytes:
        raise NotImplementedError

    def buffered(self) -> bool:
        """Whether all of it is in memory already: reading it waits on no client."""
        return False

    def finished(self) -> bool:
        """Whether the whole body was read, so the next request can follow."""
        raise NotImplementedError

    def readable(self) -> bool:
        return True


class LengthBody(Body):
    def __init__(self, conn: Connection, length: int) -> None:
        self._conn = conn
        self._length = length
        self._left = length

    def read(self, size: int = -1) -> bytes:
        want = self._left if size < 0 else min(size, self._left)
        out = bytearray()
        while len(out) < want:
            data = self._conn.read_some(min(want - len(out), 1 << 20))
            if not data:
                got = self._length - self._left + len(out)
                raise InvalidArgument(f"request body ended after {got} of its {self._length} bytes")
            out += data
        self._left -= len(out)
        return bytes(out)

    def buffered(self) -> bool:
        return self._conn.buffered(self._left)

    def finished(self) -> bool:
        return self._left == 0


class ChunkedBody(Body):
    """A chunked body (the docker CLI streams build contexts and imports this way)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._left = 0
        self._done = False

    def read(self, size: int = -1) -> bytes:
        out = bytearray()
        while not self._done and (size < 0 or len(out) < size):
            if self._left == 0 and not self._next_chunk():
                break
            want = self._left if size < 0 else min(self._left, size - len(out))
            data = self._conn.read_some(min(want, 1 << 20))
            if not data:
                raise InvalidArgument("request body ended inside a chunk")
            out += data
            self._left -= len(data)
            if self._left == 0 and self._conn.readline(MAX_CHUNK_LINE).strip():
                raise InvalidArgument("request body: a chunk is longer than its size")
        return bytes(out)

    def _next_chunk(self) -> bool:
        line = self._conn.readline(MAX_CHUNK_LINE)
        if not line:
            raise InvalidArgument("request body ended before its last chunk")
        size = line.split(b";")[0].strip()
        if not size or len(size) > 16 or not all(c in b"0123456789abcdefABCDEF" for c in size):
            raise InvalidArgument(f"request body: bad chunk size line {line[:40]!r}")
        self._left = int(size, 16)
        if self._left == 0:
            while self._conn.readline(MAX_CHUNK_LINE).strip():
                pass  # trailers, which nothing here uses
            self._done = True
            return False
        return True

    def finished(self) -> bool:
        return self._done


class NoBody(Body):
    def read(self, size: int = -1) -> bytes:
        return b""

    def buffered(self) -> bool:
        return True

    def finished(self) -> bool:
        return True


def timeval(seconds: float) -> bytes:
    """`seconds` as the struct timeval SO_RCVTIMEO and SO_SNDTIMEO take (0: no limit)."""
    whole = int(seconds)
    micros = int((seconds - whole) * 1e6)
    if whole == 0 and micros == 0 and seconds > 0:
        micros = 1  # a moment left is not "no limit"
    return struct.pack("ll", whole, micros)
