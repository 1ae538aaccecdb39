"""Rotation as Docker does it (max-size, max-file, compress) and reading across the
rotated files: in order, from the end for --tail, and while following."""

from __future__ import annotations

import gzip
import json
import os
import threading
import time
from pathlib import Path

import pytest

from lamina.containers.monitor.logs import files
from lamina.containers.monitor.logs.config import LogConfig
from lamina.containers.monitor.logs.entries import decode_line
from lamina.containers.monitor.logs.writer import LogWriter, RingBuffer
from lamina.timestamps import parse_ns
from tests.support.logs import read_entries


def write_numbers(
    log: Path, count: int, config: LogConfig, *, start: int = 0, pause: float = 0
) -> None:
    writer = LogWriter(log, config)
    for i in range(start, start + count):
        writer.write("stdout", f"line {i:05d}\n".encode())
        if pause:
            time.sleep(pause)
    writer.close()
    writer.wait()


def numbers(log: Path, **kw: object) -> list[int]:
    return [int(e.text.split()[1]) for e in read_entries(log, **kw)]


def log_files(log: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in log.parent.iterdir()}


def test_the_files_never_hold_more_than_max_size_times_max_file(tmp_path: Path) -> None:
    log = tmp_path / "c-json.log"
    write_numbers(log, 500, LogConfig(max_size=1000, max_files=3))
    sizes = log_files(log)
    assert sorted(sizes) == ["c-json.log", "c-json.log.1", "c-json.log.2"]
    assert all(size <= 1000 for size in sizes.values()) and sum(sizes.values()) <= 3000
    kept = numbers(log, max_files=3)
    assert kept == list(range(kept[0], 500)) and len(kept) > 30  # the newest, in order
    assert all(os.stat(log.parent / name).st_mode & 0o777 == 0o600 for name in sizes)


def test_the_writer_makes_an_existing_log_private(tmp_path: Path) -> None:
    log = tmp_path / "c-json.log"
    log.write_bytes(b"")
    os.chmod(log, 0o644)  # as an older lamina, or another umask, left it
    write_numbers(log, 1, LogConfig())
    assert os.stat(log).st_mode & 0o777 == 0o600


def test_one_file_starts_again_when_full(tmp_path: Path) -> None:
    log = tmp_path / "c-json.log"
    write_numbers(log, 500, LogConfig(max_size=1000, max_files=1))
    assert list(log_files(log)) == ["c-json.log"] and log.stat().st_size <= 1000
    assert numbers(log)[-1] == 499


def test_rotated_files_are_gzipped_with_the_time_of_their_last_entry(tmp_path: Path) -> None:
    log = tmp_path / "c-json.log"
    write_numbers(log, 500, LogConfig(max_size=2000, max_files=4, compress=True))
    assert sorted(log_files(log)) == [
        "c-json.log", "c-json.log.1.gz", "c-json.log.2.gz", "c-json.log.3.gz",
    ]  # fmt: skip
    first = log.with_name("c-json.log.1.gz")
    with gzip.open(first) as f:
        lines = f.read().splitlines()
    last = decode_line(lines[-1])
    assert last is not None
    with open(first, "rb") as raw:
        assert files.gzip_last_ns(raw) == parse_ns(last.time)
        raw.seek(12)
        extra = json.loads(raw.read(first.read_bytes()[10]))
    assert list(extra) == ["lastTime"]  # Docker's header field, in Go's time format
    kept = numbers(log, max_files=4)
    assert kept == list(range(kept[0], 500)) and len(kept) > 80


@pytest.mark.parametrize("compress", [False, True])
def test_tail_and_since_reach_into_the_rotated_files(tmp_path: Path, compress: bool) -> None:
    log = tmp_path / "c-json.log"
    config = LogConfig(max_size=600, max_files=20, compress=compress)
    write_numbers(log, 100, config)
    assert len(log_files(log)) > 5
    assert numbers(log, max_files=20, tail=25) == list(range(75, 100))
    assert numbers(log, max_files=20, tail=1) == [99]
    assert numbers(log, max_files=20, tail=0) == []
    assert numbers(log, max_files=20) == list(range(100))
    entries = list(read_entries(log, max_files=20))
    since = (parse_ns(entries[42].time) - 1000) / 1e9  # seconds in a float: ±240 ns
    assert numbers(log, max_files=20, since=since) == list(range(42, 100))


@pytest.mark.parametrize("compress", [False, True])
def test_follow_goes_on_across_rotations_without_losing_or_repeating(
    tmp_path: Path, compress: bool
) -> None:
    log = tmp_path / "c-json.log"
    config = LogConfig(max_size=400, max_files=50, compress=compress)
    LogWriter(log, config).close()  # the file exists before the container writes
    done = threading.Event()

    def container() -> None:
        write_numbers(log, 300, config, pause=0.001)
        done.set()

    thread = threading.Thread(target=container)
    thread.start()
    got = numbers(log, max_files=50, follow=True, stop=done.is_set, poll_interval=0.005)
    thread.join()
    assert len(log_files(log)) > 20  # it did rotate, many times
    assert got == list(range(300))


@pytest.mark.parametrize("compress", [False, True])
def test_a_follower_never_sees_a_rotation_half_done(tmp_path: Path, compress: bool) -> None:
    """Output in bursts of many files each (seq in a container): the monitor rotates
    again and again while the follower lists the files. Without the log's lock the
    follower listed some files under one number and opened them under the next, and
    skipped one (every run of this test)."""
    log = tmp_path / "c-json.log"
    config = LogConfig(max_size=20_000, max_files=200, compress=compress)
    writer = LogWriter(log, config)
    done = threading.Event()

    def container() -> None:
        for start in range(0, 30_000, 1500):
            writer.write(
                "stdout", "".join(f"line {i}\n" for i in range(start, start + 1500)).encode()
            )
        writer.close()
        writer.wait()
        done.set()

    got: list[int] = []
    thread = threading.Thread(target=container)
    thread.start()
    for entry in read_entries(
        log, max_files=1000, follow=True, stop=done.is_set, poll_interval=0.001
    ):
        got.append(int(entry.text.split()[1]))
        if len(got) % 500 == 0:
            time.sleep(0.001)  # a follower a little behind, as one under load is
    thread.join()
    assert len(log_files(log)) > 100  # it rotated many times
    assert got == list(range(30_000))


def test_a_reader_waits_for_a_rotation_under_way(tmp_path: Path) -> None:
    log = tmp_path / "c-json.log"
    write_numbers(log, 10, LogConfig(max_size=100, max_files=5))
    with files.locked(log, shared=False):  # a rotation under way
        opened = threading.Thread(target=lambda: files.close_segments(files.open_segments(log, 5)))
        opened.start()
        opened.join(0.2)
        assert opened.is_alive()
    opened.join(5)
    assert not opened.is_alive()


def test_a_follower_that_fell_behind_goes_on_with_what_is_kept(tmp_path: Path) -> None:
    log = tmp_path / "c-json.log"
    config = LogConfig(max_size=400, max_files=3)
    write_numbers(log, 20, config)
    reader = read_entries(log, max_files=3, follow=True, stop=lambda: True, poll_interval=0.001)
    first = next(reader)  # holds the oldest file open, then falls far behind
    write_numbers(log, 300, config, start=20)
    rest = [int(e.text.split()[1]) for e in reader]
    assert rest == sorted(set(rest)) and rest[-1] == 319  # no repeats, up to the end
    assert first.text.startswith("line ")


def test_a_follower_finds_its_file_after_it_was_compressed(tmp_path: Path) -> None:
    log = tmp_path / "c-json.log"
    config = LogConfig(max_size=400, max_files=100, compress=True)
    write_numbers(log, 3, config)
    reader = read_entries(log, max_files=100, follow=True, stop=lambda: True, poll_interval=0.001)
    assert next(reader).text == "line 00000\n"  # its file open, the rest of it unread
    write_numbers(log, 200, config, start=3)  # that file is now c-json.log.N.gz, N > 1
    assert not log.with_name("c-json.log.1").exists() and len(log_files(log)) < 100
    rest = [int(e.text.split()[1]) for e in reader]
    assert rest == list(range(1, 203))


@pytest.mark.parametrize("compress", [False, True])
def test_a_huge_max_file_costs_only_the_files_that_exist(tmp_path: Path, compress: bool) -> None:
    """max-file may be anything up to int64's end, as in Docker: rotating and reading
    act on the files there are (counting up to max-file took 24 s a `logs` at 1e6)."""
    log = tmp_path / "c-json.log"
    most = 2**63 - 1
    started = time.monotonic()
    write_numbers(log, 300, LogConfig(max_size=400, max_files=most, compress=compress))
    assert len(log_files(log)) > 20  # nothing rotated out
    assert numbers(log, max_files=most) == list(range(300))
    assert numbers(log, max_files=most, tail=3) == [297, 298, 299]
    assert time.monotonic() - started < 20  # ~0.1 s; looping over max-file would be hours


def test_a_rotation_deletes_what_passes_max_file_and_keeps_a_failed_compression(
    tmp_path: Path,
) -> None:
    log = tmp_path / "c-json.log"
    for name, text in [
        ("c-json.log.2.gz", "old"),
        ("c-json.log.1", "failed"),
        ("c-json.log", "new"),
    ]:
        log.with_name(name).write_text(text)
    log.with_name("c-json.log.1.gz.tmp").write_text("partial")  # not a rotated file
    files.rotate(log, 3, compress=True)
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == {
        "c-json.log.1": "new",
        "c-json.log.2": "failed",  # moved as it is, still read
        "c-json.log.1.gz.tmp": "partial",
    }


def test_an_unfinished_compression_is_done_by_the_next_writer(tmp_path: Path) -> None:
    log = tmp_path / "c-json.log"
    # What a monitor killed while compressing leaves: .1, and part of .1.gz
    write_numbers(log, 30, LogConfig(max_size=1000, max_files=2))
    log.with_name("c-json.log.1.gz.tmp").write_bytes(b"half")
    before = numbers(log, max_files=2)
    write_numbers(log, 0, LogConfig(max_size=1000, max_files=2, compress=True))
    assert sorted(log_files(log)) == ["c-json.log", "c-json.log.1.gz"]
    assert numbers(log, max_files=2) == before


def test_a_line_without_end_does_not_grow_the_reader(tmp_path: Path) -> None:
    log = tmp_path / "c-json.log"
    log.write_bytes(b"x" * (3 << 20) + b'"}\n')
    write_numbers(log, 2, LogConfig())
    assert numbers(log) == [0, 1]


def test_the_non_blocking_buffer_drops_what_does_not_fit() -> None:
    written: list[list[int]] = []
    unblock = threading.Event()

    def slow_disk(batch: list[bytes], nanos: list[int]) -> None:
        unblock.wait(5)
        written.append(nanos)

    ring = RingBuffer(slow_disk, max_bytes=100)
    started = time.monotonic()
    ring.put([b"{}\n"], 0, [40])  # taken by the writer thread, which then waits for the disk
    time.sleep(0.05)
    ring.put([b"{}\n"] * 4, 10, [40] * 4)  # 2 fit in 100 bytes, 2 are dropped
    assert time.monotonic() - started < 1  # put never waited for the disk
    unblock.set()
    ring.close()
    assert written == [[0], [10, 11]] and ring.dropped == 2
