"""Docker's multiplexed stdio stream, and the line that opens an attach connection.

Without a TTY, Docker sends a container's stdout and stderr over one connection as
frames: an 8-byte header (stream byte, three zero bytes, big-endian uint32 payload
length) followed by the payload. With a TTY there is one stream and bytes go raw.
The monitor writes these frames on its attach socket so the daemon can copy them
unchanged to a hijacked HTTP connection; the CLI decodes them on the other end.

Everything here is a pure function of its arguments (the decoder keeps only the bytes
it was given that do not yet make a whole frame).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Iterator
from typing import NamedTuple

from lamina.errors import InvalidArgument

STDIN = 0
STDOUT = 1
STDERR = 2
SYSTEMERR = 3  # Docker uses it for errors the daemon reports inside the stream

HEADER = struct.Struct(">BxxxI")
MAX_PAYLOAD = 0xFFFFFFFF


class Frame(NamedTuple):
    stream: int
    payload: bytes


def encode_frame(stream: int, payload: bytes) -> bytes:
    if not 0 <= stream <= SYSTEMERR:
        raise InvalidArgument(f"invalid stream {stream} for a multiplexed frame")
    if len(payload) > MAX_PAYLOAD:
        raise InvalidArgument(f"frame payload of {len(payload)} bytes is too large")
    return HEADER.pack(stream, len(payload)) + payload


def decode_frames(data: bytes) -> tuple[list[Frame], bytes]:
    """Split `data` into whole frames and the incomplete rest (to prepend to what comes next)."""
    frames: list[Frame] = []
    pos = 0
    while len(data) - pos >= HEADER.size:
        stream, size = HEADER.unpack_from(data, pos)
        if stream > SYSTEMERR:
            raise InvalidArgument(f"invalid stream byte {stream} in a multiplexed stream")
        end = pos + HEADER.size + size
        if end > len(data):
            break
        frames.append(Frame(stream, data[pos + HEADER.size : end]))
        pos = end
    return frames, data[pos:]


def iter_frames(read: Callable[[int], bytes], chunk: int = 65536) -> Iterator[Frame]:
    """Frames from a blocking byte source (e.g. `sock.recv`) until it returns b"" (EOF).

    Bytes that end mid-frame at EOF are a truncated stream and are reported as such.
    """
    pending = b""
    while data := read(chunk):
        frames, pending = decode_frames(pending + data)
        yield from frames
    if pending:
        raise InvalidArgument(f"multiplexed stream ended inside a frame ({len(pending)} bytes)")


def demultiplex(data: bytes) -> dict[int, bytes]:
    """All of a complete stream's payloads joined per stream: {STDOUT: b"...", ...}."""
    frames, rest = decode_frames(data)
    if rest:
        raise InvalidArgument(f"multiplexed stream ended inside a frame ({len(rest)} bytes)")
    out: dict[int, bytearray] = {}
    for frame in frames:
        out.setdefault(frame.stream, bytearray()).extend(frame.payload)
    return {stream: bytes(data) for stream, data in out.items()}


class AttachRequest(NamedTuple):
    """The one JSON line a client writes first on a monitor's attach socket.

    `logs` asks for the log's past content; the monitor does not replay it (the daemon
    reads the log file), it only carries the flag so both ends share one message.
    """

    stdin: bool = False
    stdout: bool = True
    stderr: bool = True
    logs: bool = False

    def encode(self) -> bytes:
        return json.dumps(self._asdict(), separators=(",", ":")).encode() + b"\n"

    @classmethod
    def decode(cls, line: bytes) -> AttachRequest:
        try:
            doc = json.loads(line)
        except ValueError as err:
            raise InvalidArgument(f"attach request is not JSON: {line[:100]!r}") from err
        if not isinstance(doc, dict) or not all(isinstance(v, bool) for v in doc.values()):
            raise InvalidArgument(f"attach request must map names to booleans: {line[:100]!r}")
        unknown = set(doc) - set(cls._fields)
        if unknown:
            raise InvalidArgument(f"attach request has unknown keys: {sorted(unknown)}")
        return cls(**doc)
