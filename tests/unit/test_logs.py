"""The json-file log: line splitting, the entry format, and the reader's options."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from lamina.containers.monitor.logs.entries import MAX_LINE, LineBuffer, append, encode_entry
from lamina.containers.monitor.logs.writer import LogWriter
from tests.support.logs import read_entries

T0 = 1_714_564_800_123_456_789  # 2024-05-01T12:00:00.123456789Z


def write_entries(path: Path, texts: list[str], *, start: int = T0, step: int = 10**9) -> None:
    for i, text in enumerate(texts):
        append(path, "stdout", text, time_ns=start + i * step)


def texts(path: Path, **kw: object) -> list[str]:
    return [entry.text for entry in read_entries(path, **kw)]


def test_entry_format_is_dockers() -> None:
    line = encode_entry("stdout", "héllo <b>\n", "2024-05-01T12:00:00.123456789Z")
    want = '{"log":"héllo <b>\\n","stream":"stdout","time":"2024-05-01T12:00:00.123456789Z"}\n'
    assert line == want.encode()


def test_line_buffer_holds_the_partial_line() -> None:
    buffer = LineBuffer()
    assert buffer.feed(b"one\ntw") == [b"one\n"]
    assert buffer.feed(b"o\nthree\r\nfour\rstill four") == [b"two\n", b"three\r\n"]
    assert buffer.feed(b"\n\n") == [b"four\rstill four\n", b"\n"]
    assert buffer.feed(b"tail") == []
    assert buffer.drain() == b"tail"
    assert buffer.drain() == b""


def test_line_buffer_cuts_very_long_lines() -> None:
    buffer = LineBuffer()
    lines = buffer.feed(b"x" * (2 * MAX_LINE + 10))
    assert [len(line) for line in lines] == [MAX_LINE, MAX_LINE]
    assert buffer.feed(b"\n") == [b"x" * 10 + b"\n"]


def test_writer_splits_streams_and_flushes_partials_at_close(tmp_path: Path) -> None:
    log = tmp_path / "c.log"
    writer = LogWriter(log)
    writer.write("stdout", b"a\nb")
    writer.write("stderr", b"oops\n")
    writer.write("stdout", b"c\n\xffd")
    writer.close()
    entries = list(read_entries(log))
    assert [(e.stream, e.text) for e in entries] == [
        ("stdout", "a\n"),
        ("stderr", "oops\n"),
        ("stdout", "bc\n"),
        ("stdout", "\ufffdd"),
    ]
    assert all(len(e.time) == 30 and e.time.endswith("Z") for e in entries)
    assert list(json.loads(log.read_text().splitlines()[0])) == ["log", "stream", "time"]


def test_tail(tmp_path: Path) -> None:
    log = tmp_path / "c.log"
    write_entries(log, [f"{i}\n" for i in range(5)])
    assert texts(log, tail=2) == ["3\n", "4\n"]
    assert texts(log, tail=0) == []
    assert texts(log, tail=99) == [f"{i}\n" for i in range(5)]


def test_tail_of_a_big_log_reads_backwards_across_blocks(tmp_path: Path) -> None:
    log = tmp_path / "c.log"
    write_entries(log, [f"line {i:05d} {'.' * 80}\n" for i in range(3000)], step=1)
    assert log.stat().st_size > 3 * 65536
    assert [t[:10] for t in texts(log, tail=3)] == ["line 02997", "line 02998", "line 02999"]


def test_since_and_until(tmp_path: Path) -> None:
    log = tmp_path / "c.log"
    write_entries(log, ["a\n", "b\n", "c\n", "d\n"])
    second = (T0 + 10**9) / 1e9
    assert texts(log, since=second - 0.001) == ["b\n", "c\n", "d\n"]
    assert texts(log, until=second + 0.001) == ["a\n", "b\n"]
    assert texts(log, since=second - 0.001, until=second + 1.001) == ["b\n", "c\n"]
    assert texts(log, tail=1, since=second) == ["d\n"]


def test_malformed_lines_and_missing_files(tmp_path: Path) -> None:
    log = tmp_path / "c.log"
    write_entries(log, ["a\n"])
    with open(log, "ab") as f:
        f.write(b'{"log": "torn\n{not json}\n')
    write_entries(log, ["b\n"])
    assert texts(log) == ["a\n", "b\n"]
    assert texts(tmp_path / "absent.log") == []


def test_follow_until_stopped_reads_the_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "c.log"
    done = threading.Event()

    def container() -> None:
        writer = LogWriter(log)
        for i in range(5):
            writer.write("stdout", f"{i}\n".encode())
            time.sleep(0.03)
        writer.write("stdout", b"last, unterminated")
        writer.close()  # the monitor completes the log before it records the exit
        done.set()

    thread = threading.Thread(target=container)
    thread.start()
    got = texts(log, follow=True, stop=done.is_set, poll_interval=0.01)
    thread.join()
    assert got == ["0\n", "1\n", "2\n", "3\n", "4\n", "last, unterminated"]


def test_follow_with_tail_zero_sees_only_new_entries(tmp_path: Path) -> None:
    log = tmp_path / "c.log"
    write_entries(log, ["old\n"])
    stopped = threading.Event()

    def later() -> None:
        time.sleep(0.05)
        write_entries(log, ["new\n"], start=T0 + 10**10)
        stopped.set()

    threading.Thread(target=later).start()
    assert texts(log, tail=0, follow=True, stop=stopped.is_set, poll_interval=0.01) == ["new\n"]
