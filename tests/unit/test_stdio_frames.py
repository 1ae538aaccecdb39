"""Docker's multiplexed stream frames and the attach request line."""

from __future__ import annotations

import io

import pytest

from lamina.containers.monitor.stdio import (
    STDERR,
    STDOUT,
    AttachRequest,
    Frame,
    decode_frames,
    demultiplex,
    encode_frame,
    iter_frames,
)
from lamina.errors import InvalidArgument


def test_header_layout() -> None:
    assert encode_frame(STDOUT, b"hi") == b"\x01\x00\x00\x00\x00\x00\x00\x02hi"
    assert encode_frame(STDERR, b"x" * 258)[:8] == b"\x02\x00\x00\x00\x00\x00\x01\x02"
    assert encode_frame(STDOUT, b"") == b"\x01\x00\x00\x00\x00\x00\x00\x00"


def test_decode_keeps_the_incomplete_rest() -> None:
    data = encode_frame(STDOUT, b"one") + encode_frame(STDERR, b"two")
    assert decode_frames(data) == ([Frame(1, b"one"), Frame(2, b"two")], b"")
    assert decode_frames(data[:-1]) == ([Frame(1, b"one")], data[11:-1])
    assert decode_frames(data[:5]) == ([], data[:5])


def test_decoding_byte_by_byte_gives_the_same_frames() -> None:
    frames = [Frame(STDOUT, b"hello\n"), Frame(STDERR, b""), Frame(STDERR, b"e" * 70000)]
    data = b"".join(encode_frame(*f) for f in frames)
    got: list[Frame] = []
    pending = b""
    for i in range(0, len(data), 7):
        new, pending = decode_frames(pending + data[i : i + 7])
        got += new
    assert got == frames and pending == b""


def test_bad_stream_bytes_are_refused() -> None:
    with pytest.raises(InvalidArgument, match="stream byte 7"):
        decode_frames(b"\x07\x00\x00\x00\x00\x00\x00\x01x")
    with pytest.raises(InvalidArgument, match="invalid stream"):
        encode_frame(4, b"x")


def test_iter_frames_and_truncation() -> None:
    data = encode_frame(STDOUT, b"a") + encode_frame(STDERR, b"b")
    assert list(iter_frames(io.BytesIO(data).read, chunk=3)) == [Frame(1, b"a"), Frame(2, b"b")]
    with pytest.raises(InvalidArgument, match="inside a frame"):
        list(iter_frames(io.BytesIO(data[:-1]).read))


def test_demultiplex_joins_per_stream() -> None:
    data = b"".join(encode_frame(s, p) for s, p in [(1, b"a"), (2, b"x"), (1, b"b")])
    assert demultiplex(data) == {STDOUT: b"ab", STDERR: b"x"}
    with pytest.raises(InvalidArgument):
        demultiplex(data[:-1])


def test_attach_request_round_trip() -> None:
    request = AttachRequest(stdin=True, stdout=True, stderr=False, logs=True)
    assert request.encode() == b'{"stdin":true,"stdout":true,"stderr":false,"logs":true}\n'
    assert AttachRequest.decode(request.encode().strip()) == request
    assert AttachRequest.decode(b'{"stdin": true}') == AttachRequest(stdin=True)


@pytest.mark.parametrize(
    ("line", "words"),
    [
        (b"stdin please", "not JSON"),
        (b'{"stdin": 1}', "booleans"),
        (b'["stdin"]', "booleans"),
        (b'{"stdin": true, "tty": true}', "unknown keys"),
    ],
)
def test_bad_attach_requests(line: bytes, words: str) -> None:
    with pytest.raises(InvalidArgument, match=words):
        AttachRequest.decode(line)
