"""The monitor with the real runc: exit codes, logs, stdin, tty, exec, attach, adoption.

Each test has its own temp dir, runc root and `lamina-test-<random>` id prefix; the
fixture's teardown removes what a failed test left and then asserts that nothing was
left: no runtime containers, no monitor or container processes, no mounts.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lamina.containers.monitor import client
from lamina.containers.monitor.options import Options
from lamina.containers.state import MonitorFiles, State, Status, read_state
from lamina.containers.stdio import STDERR, STDOUT, AttachRequest, demultiplex
from lamina.errors import Conflict, NotFound
from lamina.runtime.runc import RuncRuntime
from tests.support.busybox_bundle import available, make_bundle, process
from tests.support.logs import read_entries
from tests.support.wait import wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0 or not available(), reason="needs root, runc, busybox"),
]

TICKER = ["sh", "-c", "i=0; while true; do echo $i; i=$((i+1)); sleep 0.1; done"]


class Lab:
    """One test's monitors: bundles, options, spawning, and the cleanup check."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.prefix = f"lamina-test-{secrets.token_hex(4)}"
        self.runtime = RuncRuntime("runc", root=base / "runc")
        self.processes: list[subprocess.Popen[bytes]] = []

    def options(
        self,
        name: str,
        args: list[str],
        *,
        tty: bool = False,
        deep: bool = False,
        memory_limit: int | None = None,
        **kw: Any,
    ) -> Options:
        """`deep` puts the state dir past what a socket address can hold (107 bytes)."""
        make_bundle(self.base / name / "bundle", args, terminal=tty, memory_limit=memory_limit)
        state_dir = self.base / name / ("d" * 80 if deep else "") / "state"
        return Options(
            id=f"{self.prefix}-{name}", state_dir=state_dir,
            runtime_root=self.runtime.root, bundle=self.base / name / "bundle",
            log=self.base / name / "container.log", tty=tty, **kw,
        )  # fmt: skip

    def exec_options(self, container: Options, eid: str, args: list[str], **kw: Any) -> Options:
        spec = self.base / f"exec-{eid}.json"
        spec.write_text(json.dumps(process(args)))
        return container._replace(exec_process=spec, exec_id=eid, log=None, **kw)

    def spawn(self, opts: Options) -> State:
        proc, state = client.spawn(opts, stderr=self.base / "monitor.err")
        self.processes.append(proc)
        return state

    def cleanup(self) -> list[str]:
        """Remove what is left and say what was (an empty list when the test was clean)."""
        # A monitor deletes its stopped container just after publishing the exit.
        with contextlib.suppress(AssertionError):  # what is still there is reported below
            wait_for(
                lambda: all(c["status"] != "stopped" for c in self.runtime.list()),
                what="the monitors to delete their stopped containers",
                timeout=5,
                interval=0.01,
            )
        left = [f"runtime container {c['id']}" for c in self.runtime.list()]
        for container in self.runtime.list():
            self.runtime.delete(container["id"], force=True)
        for proc in self.processes:  # a monitor whose container is gone ends by itself
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                left.append(f"monitor {proc.pid} did not exit")
                proc.kill()
                proc.wait()
        for pid in _pids_with(self.prefix.encode()):
            left.append(f"process {pid}")
            os.kill(pid, signal.SIGKILL)
        left += [f"container process {pid}" for pid in self._container_pids() if _alive(pid)]
        left += [f"mount {line}" for line in _mounts_under(self.base)]
        return left

    def _container_pids(self) -> list[int]:
        states = [read_state(p) for p in self.base.glob("*/**/state/*.json")]
        return [s.pid for s in states if s is not None and s.pid]


@pytest.fixture
def lab() -> Iterator[Lab]:
    base = Path(tempfile.mkdtemp(prefix="lamina-mon-", dir="/tmp"))
    lab = Lab(base)
    try:
        yield lab
    finally:
        left = lab.cleanup()
        subprocess.run(["rm", "-rf", str(base)], check=False)
        assert not left, f"left behind: {left}"


def files(opts: Options) -> MonitorFiles:
    return MonitorFiles(opts.state_dir, opts.exec_id)


def read_until_eof(sock: socket.socket, timeout: float = 20.0) -> bytes:
    sock.settimeout(timeout)
    data = bytearray()
    with sock:
        while chunk := sock.recv(65536):
            data += chunk
    return bytes(data)


def log_entries(opts: Options) -> list[tuple[str, str]]:
    assert opts.log is not None
    return [(e.stream, e.text) for e in read_entries(opts.log)]


def test_exit_code_streams_and_log(lab: Lab) -> None:
    opts = lab.options("c", ["sh", "-c", "echo out; echo err >&2; exit 3"])
    ready = lab.spawn(opts)
    assert ready.status in (Status.RUNNING, Status.EXITED) and ready.pid > 0
    final = client.wait(files(opts), timeout=20)
    assert final.status == Status.EXITED and final.exit_code == 3
    assert final.oom_killed is False and final.error == ""
    assert read_state(files(opts).state) == final
    assert opts.log is not None
    entries = list(read_entries(opts.log))
    assert sorted((e.stream, e.text) for e in entries) == [("stderr", "err\n"), ("stdout", "out\n")]
    started, finished = _nanos(final.started_at), _nanos(final.finished_at)
    assert all(started - 10**9 <= e.nanos <= finished + 10**9 for e in entries)
    assert lab.processes[0].wait(timeout=10) == 0
    assert not any(files(opts).dir.glob("*.sock"))
    assert lab.runtime.state(opts.id) is None


@pytest.mark.parametrize(
    ("command", "code", "words"),
    [
        (["nosuch"], 127, ['exec: "nosuch"', "executable file not found in $PATH"]),
        (["/etc/passwd"], 126, ['"/etc/passwd"', "permission denied"]),
    ],
)
def test_create_failure_is_reported_like_docker(
    lab: Lab, command: list[str], code: int, words: list[str]
) -> None:
    opts = lab.options("c", command)
    ready = lab.spawn(opts)
    assert ready.status == Status.CREATE_FAILED and ready.exit_code == code
    assert ready.error.startswith("OCI runtime create failed: runc create failed:")
    assert ready.error.endswith(": unknown")
    assert all(word in ready.error for word in words), ready.error
    assert read_state(files(opts).state) == ready
    assert lab.processes[0].wait(timeout=10) == 0
    assert lab.runtime.list() == []
    assert log_entries(opts) == []  # runc's own complaint is not container output


@pytest.mark.parametrize("how", ["stdin-once", "close-stdin"])
def test_closing_stdin_ends_cat(lab: Lab, how: str) -> None:
    once = how == "stdin-once"
    opts = lab.options("c", ["cat"], stdin=True, stdin_once=once, wait_attach=True)
    assert lab.spawn(opts).status == Status.CREATED
    sock = client.attach(files(opts), AttachRequest(stdin=True, stdout=True, stderr=True))
    client.control(files(opts), "start")  # the attach started it; asking again is harmless
    sock.sendall(b"hello\n")
    if once:
        sock.shutdown(socket.SHUT_WR)
    else:
        wait_for(lambda: log_entries(opts), what="cat's echo of the input before its stdin goes")
        client.control(files(opts), "close-stdin")
    assert demultiplex(read_until_eof(sock)) == {STDOUT: b"hello\n"}
    assert client.wait(files(opts), timeout=20).exit_code == 0
    assert log_entries(opts) == [("stdout", "hello\n")]
    lab.processes[0].wait(timeout=10)
    with pytest.raises(Conflict, match="not running"):
        client.attach(files(opts), AttachRequest())
    with pytest.raises(Conflict, match="not running"):
        client.control(files(opts), "resize", height=1, width=1)
    client.control(files(opts), "start")  # it ran: nothing left to start, and no error


@pytest.mark.parametrize("how", ["control", "option"])
def test_tty_resize(lab: Lab, how: str) -> None:
    size = (30, 100) if how == "option" else None
    opts = lab.options("c", ["sh", "-c", "tty; stty size"], tty=True, wait_attach=True,
                       console_size=size, deep=how == "option")  # fmt: skip
    assert lab.spawn(opts).status == Status.CREATED
    if how == "control":
        client.control(files(opts), "resize", height=30, width=100)
    out = read_until_eof(client.attach(files(opts), AttachRequest(stdout=True)))
    assert b"/dev/pts/0\r\n" in out and b"30 100\r\n" in out, out
    assert client.wait(files(opts), timeout=20).exit_code == 0
    assert ("stdout", "30 100\r\n") in log_entries(opts)


def test_tty_input(lab: Lab) -> None:
    opts = lab.options("c", ["sh"], tty=True, stdin=True, wait_attach=True, deep=True)
    assert len(bytes(files(opts).attach)) > 108
    lab.spawn(opts)
    sock = client.attach(files(opts), AttachRequest(stdin=True, stdout=True))
    sock.sendall(b"echo $((6*7)); exit 7\n")
    out = read_until_eof(sock)
    assert b"42\r\n" in out, out
    assert client.wait(files(opts), timeout=20).exit_code == 7


def test_container_survives_its_daemon(lab: Lab) -> None:
    opts = lab.options("c", TICKER)
    monitor_pid = _spawn_from_doomed_parent(opts, lab.base / "monitor.err")
    state = read_state(files(opts).state)
    assert state is not None and state.status == Status.RUNNING
    assert state.monitor_pid == monitor_pid and client.monitor_alive(state)
    assert os.getsid(monitor_pid) == monitor_pid  # its own session, not the daemon's
    assert opts.log is not None
    size = opts.log.stat().st_size
    wait_for(lambda: opts.log.stat().st_size > size, what="the log to keep growing")
    runtime_state = lab.runtime.state(opts.id)
    assert runtime_state is not None and runtime_state["status"] == "running"
    adopted = client.attach(files(opts), AttachRequest())  # what a new daemon does
    adopted.settimeout(10)
    assert adopted.recv(8)[0] == STDOUT
    adopted.close()
    lab.runtime.kill(opts.id, signal.SIGKILL)
    final = client.wait(files(opts), timeout=20)
    assert final.status == Status.EXITED and final.exit_code == 137 and not final.oom_killed
    wait_for(lambda: not _alive(monitor_pid), what=f"the monitor {monitor_pid} to end")


def test_exec_waits_for_attach_and_stays_out_of_the_log(lab: Lab) -> None:
    container = lab.options("c", ["sh", "-c", "echo main; sleep 1000"])
    assert lab.spawn(container).status == Status.RUNNING
    opts = lab.exec_options(container, "e1", ["sh", "-c", "echo from-exec; exit 5"],
                            wait_attach=True)  # fmt: skip
    assert lab.spawn(opts).status == Status.CREATED
    out = read_until_eof(client.attach(files(opts), AttachRequest(stdout=True, stderr=True)))
    assert demultiplex(out) == {STDOUT: b"from-exec\n"}
    final = client.wait(files(opts), timeout=20)
    assert final.status == Status.EXITED and final.exit_code == 5
    assert files(opts).state.name == "exec-e1.json"
    assert lab.runtime.state(container.id) is not None  # an exec's end is not the container's
    lab.runtime.kill(container.id, "KILL")
    assert client.wait(files(container), timeout=20).exit_code == 137
    assert log_entries(container) == [("stdout", "main\n")]


def test_exec_of_missing_command(lab: Lab) -> None:
    container = lab.options("c", ["sleep", "1000"])
    lab.spawn(container)
    opts = lab.exec_options(container, "e2", ["nosuch"])
    failed = lab.spawn(opts)
    assert failed.status == Status.CREATE_FAILED and failed.exit_code == 127
    assert failed.error.startswith("OCI runtime exec failed:") and "nosuch" in failed.error
    lab.runtime.kill(container.id, "KILL")
    assert client.wait(files(container), timeout=20).exit_code == 137


def test_two_attach_clients_both_get_output(lab: Lab) -> None:
    loop = "while true; do echo tick; echo tock >&2; sleep 0.1; done"
    opts = lab.options("c", ["sh", "-c", loop])
    lab.spawn(opts)
    socks = [client.attach(files(opts), AttachRequest()) for _ in range(2)]
    before = len(log_entries(opts))  # lines from before the clients came
    received: list[bytes] = []
    threads = [threading.Thread(target=lambda s=s: received.append(read_until_eof(s)))
               for s in socks]  # fmt: skip
    for thread in threads:
        thread.start()

    def ticked() -> bool:  # what the log got since, both clients get before EOF
        texts = [text for _, text in log_entries(opts)[before:]]
        # one more each: a line read just before an attach may be logged just after `before`
        return texts.count("tick\n") >= 4 and texts.count("tock\n") >= 4

    wait_for(ticked, what="four ticks and tocks since the clients attached")
    lab.runtime.kill(opts.id, signal.SIGKILL)
    assert client.wait(files(opts), timeout=20).exit_code == 137
    for thread in threads:
        thread.join(timeout=20)
    assert len(received) == 2
    for data in received:
        streams = demultiplex(data)
        assert streams[STDOUT].count(b"tick\n") >= 3 and streams[STDERR].count(b"tock\n") >= 3


def test_a_stalled_client_is_dropped_not_waited_for(lab: Lab) -> None:
    script = "head -c 8000000 /dev/zero | tr '\\0' x; echo; echo done"
    opts = lab.options("c", ["sh", "-c", script], wait_attach=True)
    lab.spawn(opts)
    stalled = client.attach(files(opts), AttachRequest())  # and never reads
    final = client.wait(files(opts), timeout=60)
    assert final.exit_code == 0
    got = read_until_eof(stalled)
    assert 0 < len(got) < 8_000_000  # cut off, and told so by EOF
    assert opts.log is not None
    texts = [e.text for e in read_entries(opts.log)]
    assert sum(len(t) for t in texts) == 8_000_000 + len("\n") + len("done\n")
    assert texts[-1] == "done\n" and max(len(t) for t in texts) <= 16 * 1024 + 1


def test_log_reader_follow_tail_since(lab: Lab) -> None:
    opts = lab.options("c", ["sh", "-c", "for i in 1 2 3 4 5; do echo $i; sleep 0.2; done"])
    lab.spawn(opts)
    assert opts.log is not None

    def exited() -> bool:
        state = read_state(files(opts).state)
        return state is not None and state.final

    followed = [e.text for e in read_entries(opts.log, follow=True, stop=exited)]
    assert followed == ["1\n", "2\n", "3\n", "4\n", "5\n"]
    assert [e.text for e in read_entries(opts.log, tail=2)] == ["4\n", "5\n"]
    entries = list(read_entries(opts.log))
    since = entries[2].nanos / 1e9 - 0.01
    assert [e.text for e in read_entries(opts.log, since=since)] == ["3\n", "4\n", "5\n"]
    until = entries[1].nanos / 1e9 + 0.01
    assert [e.text for e in read_entries(opts.log, until=until)] == ["1\n", "2\n"]


def test_oom_kill_is_recorded(lab: Lab) -> None:
    # tail keeps the last 150 MB of an endless stream in memory; the limit is 32 MiB.
    opts = lab.options("c", ["tail", "-c", "150000000", "/dev/zero"], memory_limit=32 << 20)
    lab.spawn(opts)
    final = client.wait(files(opts), timeout=30)
    assert final.exit_code == 137 and final.oom_killed is True


def test_idle_monitor_memory(lab: Lab) -> None:
    opts = lab.options("c", ["sleep", "1000"])
    state = lab.spawn(opts)
    readings: list[int] = []

    def settled() -> bool:  # idle: the same size three looks in a row
        status = Path(f"/proc/{state.monitor_pid}/status").read_text()
        readings.append(int(status.split("VmRSS:")[1].split()[0]))
        return len(readings) >= 3 and len(set(readings[-3:])) == 1

    wait_for(settled, interval=0.1, what="the monitor's memory to settle")
    rss_kb = readings[-1]
    print(f"\nidle monitor VmRSS: {rss_kb} kB ({rss_kb / 1024:.1f} MiB)")
    assert rss_kb < 40 * 1024
    lab.runtime.kill(opts.id, "KILL")
    assert client.wait(files(opts), timeout=20).exit_code == 137


def test_runtime_adapter_errors(lab: Lab) -> None:
    missing = f"{lab.prefix}-missing"
    assert lab.runtime.state(missing) is None
    assert lab.runtime.list() == []
    with pytest.raises(NotFound, match=missing):
        lab.runtime.kill(missing, "KILL")
    with pytest.raises(NotFound, match=missing):
        lab.runtime.delete(missing)
    lab.runtime.delete(missing, force=True)  # runc: forcing the delete of nothing is fine


def test_runtime_start_through_the_exec_fifo(lab: Lab) -> None:
    """Runtime.start(pid=…) does `runc start`'s part itself; runc must agree after."""
    bundle = lab.base / "direct" / "bundle"
    make_bundle(bundle, ["sleep", "1000"])
    cid = f"{lab.prefix}-direct"
    pid_file = lab.base / "direct" / "pid"
    lab.runtime.create(cid, bundle, pid_file=pid_file)
    pid = int(pid_file.read_text())
    assert lab.runtime.state(cid)["status"] == "created"  # type: ignore[index]
    lab.runtime.start(cid, pid=pid)
    assert lab.runtime.state(cid)["status"] == "running"  # type: ignore[index]
    # runc init execs the process a moment after the fifo
    wait_for(
        lambda: Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"sleep"),
        what="the process to become sleep",
    )
    with pytest.raises(Conflict):
        lab.runtime.start(cid, pid=pid)  # no fifo any more: runc's own answer
    lab.runtime.delete(cid, force=True)


def _spawn_from_doomed_parent(opts: Options, stderr: Path) -> int:
    """Spawn the monitor from a throwaway process (the "daemon"), then kill -9 that."""
    script = (
        "import json, sys, time\n"
        "from pathlib import Path\n"
        "from lamina.containers.monitor import client, options\n"
        "opts = options.parse(json.loads(sys.argv[1]))\n"
        "proc, state = client.spawn(opts, stderr=Path(sys.argv[2]))\n"
        "print(state.monitor_pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    argv = json.dumps(options_argv(opts))
    daemon = subprocess.Popen([sys.executable, "-c", script, argv, str(stderr)],
                              stdout=subprocess.PIPE, cwd=Path(__file__).parents[2])  # fmt: skip
    assert daemon.stdout is not None
    line = daemon.stdout.readline()
    daemon.kill()
    daemon.wait()
    return int(line)


def options_argv(opts: Options) -> list[str]:
    from lamina.containers.monitor.options import to_argv

    return to_argv(opts)


def _nanos(text: str) -> int:
    from lamina.timestamps import parse_ns

    return parse_ns(text)


def _alive(pid: int) -> bool:
    """Running, not a zombie (an orphan's zombie waits for init, which may not reap)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def _pids_with(needle: bytes) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if needle in (entry / "cmdline").read_bytes() and _alive(int(entry.name)):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _mounts_under(base: Path) -> list[str]:
    with open("/proc/mounts", encoding="utf-8") as f:
        return [line.strip() for line in f if f" {base}" in line]
