"""The daemon's side of a monitor: start one, learn its first state, attach, control, wait.

Readiness: the daemon passes the write end of a pipe as `--ready-fd N`; the monitor
writes its first state document there as one JSON line, then closes it. That line is
the state file's content at that moment:

    {"status": "running", "pid": 4242, "monitor_pid": 4240, "started_at": "…", …}
    {"status": "created", …}        with --wait-attach: sockets up, waiting for a client
    {"status": "create-failed", "exit_code": 127, "error": "OCI runtime create failed: …"}

EOF without a line means the monitor died first (its stderr says why). A daemon that
restarts learns everything again from the state file and the sockets beside it.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from lamina import private, process
from lamina.containers.monitor import sockets
from lamina.containers.monitor.options import Options, to_argv
from lamina.containers.monitor.state import MonitorFiles, State, read_state
from lamina.containers.monitor.stdio import AttachRequest
from lamina.errors import Conflict, Internal, Unavailable

# In every monitor's command line: `python -m lamina.containers.monitor …`, or the fork
# server's `python -m lamina.containers.monitor.forkserver …` that forked it.
COMMAND = b"lamina.containers.monitor"
READY_TIMEOUT = 60.0


def command(opts: Options, *, python: str = sys.executable) -> list[str]:
    return [python, "-m", "lamina.containers.monitor", *to_argv(opts)]


def spawn(
    opts: Options, *, stderr: Path | None = None, timeout: float = READY_TIMEOUT
) -> tuple[subprocess.Popen[bytes], State]:
    """Start a monitor in its own session; return it once it reports its first state.

    The caller owns the returned process and must reap it (`poll()`/`wait()`) when it
    ends; the monitor never needs the caller otherwise.
    """
    read_fd, write_fd = os.pipe()
    err = private.open_append(stderr) if stderr else None
    try:
        process = subprocess.Popen(
            command(opts._replace(ready_fd=write_fd)), pass_fds=(write_fd,),
            start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=err or subprocess.DEVNULL, cwd="/",
        )  # fmt: skip
    finally:
        os.close(write_fd)
        if err:
            err.close()
    try:
        line = _read_line(read_fd, timeout, opts.id)
    except Unavailable:
        process.kill()  # a monitor we cannot account for must not linger
        process.wait()
        raise
    finally:
        os.close(read_fd)
    if not line:
        status = process.wait()
        raise Internal(f"monitor for {opts.id} exited with status {status} before it was ready")
    return process, State.from_json(json.loads(line))


def spawn_forked(
    server: Path, opts: Options, *, stderr: Path | None = None, timeout: float = READY_TIMEOUT
) -> State:
    """Like `spawn`, through the fork server at `server` (see forkserver.py): the monitor
    is not our child, so there is nothing to reap; `wait` learns of its end."""
    from lamina.containers.monitor import forkserver

    read_fd, write_fd = os.pipe()
    try:
        pid = forkserver.spawn(server, opts, write_fd, stderr)
    finally:
        os.close(write_fd)
    try:
        line = _read_line(read_fd, timeout, opts.id)
    except Unavailable:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        raise
    finally:
        os.close(read_fd)
    if not line:
        raise Internal(f"monitor for {opts.id} (pid {pid}) exited before it was ready")
    return State.from_json(json.loads(line))


def attach(files: MonitorFiles, request: AttachRequest) -> socket.socket:
    """A connection that carries the process's output (and, with stdin, its input).

    Conflict when no monitor listens (the process has ended, or never began).
    """
    sock = _connect(files.attach, None, files)
    try:
        sock.sendall(request.encode())
    except ConnectionError as err:
        sock.close()
        raise Conflict(f"{_who(files)} is not running") from err
    return sock


def control(files: MonitorFiles, op: str, **fields: Any) -> None:
    """Send one control request (`resize`, `close-stdin`, `start`) and check its answer.

    `start` and `close-stdin` sent to a monitor that has already finished succeed:
    a process that ran and ended needs neither (a short one can end between an
    attach, which starts it, and the `start` that follows). `resize` raises Conflict.
    """
    try:
        reply = _request(files, {"op": op, **fields})
    except Conflict:
        state = read_state(files.state)
        if op in ("start", "close-stdin") and state is not None and state.final:
            return
        raise
    if not reply.get("ok"):
        raise Conflict(reply.get("error") or f"{_who(files)} gave no answer to {op}")


def _request(files: MonitorFiles, request: dict[str, Any]) -> dict[str, Any]:
    with _connect(files.control, 10.0, files) as sock:
        try:
            sock.sendall(json.dumps(request).encode() + b"\n")
            line = sockets.recv_line(sock)
        except ConnectionError as err:
            raise Conflict(f"{_who(files)} is not running") from err
    if not line:
        raise Conflict(f"{_who(files)} ended before answering {request['op']}")
    reply: dict[str, Any] = json.loads(line)
    return reply


def wait(files: MonitorFiles, timeout: float | None = None) -> State:
    """Block until the monitor recorded its final state, and return it."""
    try:
        with sockets.connect(files.control, timeout=timeout) as sock:
            sock.sendall(b'{"op": "wait"}\n')
            line = sockets.recv_line(sock)
    except (FileNotFoundError, ConnectionError):
        line = b""  # the monitor is gone (or going): its state file has the last word
    except TimeoutError as err:
        raise Unavailable(f"{_who(files)} did not end within {timeout}s") from err
    if line:
        return State.from_json(json.loads(line)["state"])
    state = read_state(files.state)
    if state is None or not state.final:
        raise Unavailable(f"the monitor of {files.dir} is gone and recorded no exit")
    return state


def monitor_alive(state: State) -> bool:
    """Whether the monitor that wrote `state` still runs (the pid is not someone else's)."""
    return process.runs(state.monitor_pid, COMMAND)


def _connect(path: Path, timeout: float | None, files: MonitorFiles) -> socket.socket:
    try:
        return sockets.connect(path, timeout=timeout)
    except (FileNotFoundError, ConnectionError) as err:
        raise Conflict(f"{_who(files)} is not running") from err


def _who(files: MonitorFiles) -> str:
    return f"exec {files.exec_id}" if files.exec_id else f"the container of {files.dir}"


def _read_line(fd: int, timeout: float, id: str) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while not data.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise Unavailable(f"monitor for {id} did not report ready in {timeout:.0f}s")
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data
