"""A fork server for monitors: start each container's monitor in ~2 ms, not ~45 ms.

A new Python process spends most of a container start importing the monitor's modules.
The fork server imports them once, then forks a monitor per request. The child leaves
the server's session at once (its own session, stdio redirected), so it is no more tied
to the server than a monitor started with `python -m` is: the server's death, or the
daemon's, leaves every monitor running.

Protocol (one request per connection on a unix socket): the daemon sends one JSON line
`{"options": {...monitor options...}, "stderr": "/path/to/monitor.log"}` with the ready
pipe's write end attached as SCM_RIGHTS, which the child uses as its ready fd. The
server answers `{"pid": N}` and the readiness protocol continues on the pipe, exactly
as with a spawned monitor.

The server is single-threaded (so fork is safe) and ignores SIGCHLD, which makes the
kernel reap finished monitors; each child restores the default before it runs. After
its warm-up the server freezes its objects out of the garbage collector's reach
(`gc.freeze`), so no collection in a child touches, and copies, the pages it shares
with the server; the options come as JSON, not argv, for the same reason: parsing with
argparse after the fork cost ~5 ms of copy-on-write faults.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from lamina.containers.monitor import options, sockets
from lamina.containers.monitor.lifecycle import Monitor

_MAX_REQUEST = 1 << 16


def serve(path: Path) -> None:
    _warm_up()
    gc.freeze()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    listener = sockets.listen(path)
    os.chdir("/")
    while True:
        conn, _ = listener.accept()
        with conn:
            try:
                _handle(conn, listener)
            except (OSError, ValueError) as err:
                print(f"forkserver: {err}", file=sys.stderr, flush=True)


def _warm_up() -> None:
    """Load once what every monitor would otherwise import after its fork: ctypes, for
    prctl(2) (~2 ms each)."""
    import ctypes  # noqa: F401 (for reaper.become_subreaper)


def _handle(conn: socket.socket, listener: socket.socket) -> None:
    data, fds, _, _ = socket.recv_fds(conn, _MAX_REQUEST, 1)
    request = json.loads(data)
    ready = fds[0] if fds else -1
    pid = os.fork()
    if pid == 0:
        listener.close()
        conn.close()
        os._exit(_child(request, ready))
    if ready >= 0:
        os.close(ready)
    conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")


def _child(request: dict[str, Any], ready: int) -> int:
    try:
        os.setsid()
        for signum in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_DFL)
        _redirect(str(request.get("stderr") or os.devnull))
        opts = options.from_json(request["options"])
        return Monitor(opts._replace(ready_fd=ready if ready >= 0 else None)).run()
    except BaseException as err:  # the child must never return into the server's loop
        print(f"monitor (forked): {err!r}", file=sys.stderr, flush=True)
        return 1


def _redirect(stderr_path: str) -> None:
    null = os.open(os.devnull, os.O_RDWR)
    err = os.open(stderr_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.dup2(err, 2)
    os.close(null)
    os.close(err)


def spawn(path: Path, opts: options.Options, ready_fd: int, stderr: Path | None) -> int:
    """Ask the server at `path` for a monitor; returns its pid."""
    with sockets.connect(path, timeout=10.0) as conn:
        request = {"options": options.to_json(opts), "stderr": str(stderr or os.devnull)}
        message = json.dumps(request).encode()
        socket.send_fds(conn, [message + b"\n"], [ready_fd])
        reply = sockets.recv_line(conn)
    return int(json.loads(reply)["pid"])


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
