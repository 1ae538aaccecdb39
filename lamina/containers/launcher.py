"""Starting monitors: through the daemon's fork server when it answers, else in a new
interpreter.

A monitor is a Python process; starting one from scratch costs an interpreter start and
lamina's imports (tens of milliseconds on every `run`). The fork server
(`lamina.containers.monitor.forkserver`) has them loaded and forks a monitor on request,
in milliseconds. It is the daemon's child, started on first use, and its pid is written
to `<run dir>/forkserver.pid` so a daemon restarted after a crash stops the one its
predecessor left (monitors are not the fork server's children, so they live on).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from subprocess import Popen
from typing import Any

from lamina import private, process
from lamina.config import Paths
from lamina.containers.monitor import client as monitor
from lamina.containers.monitor.options import Options
from lamina.containers.state import MonitorFiles
from lamina.containers.state import State as MonitorState

FORKSERVER_START_TIMEOUT = 10.0  # seconds


class MonitorLauncher:
    """The `Monitors` of a runtime that runs out of process (runc, crun)."""

    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        self._forkserver: Popen[bytes] | None = None
        self._stop_stale_forkserver()

    def start(self, opts: Options, stderr: Path) -> tuple[Popen[bytes] | None, MonitorState]:
        """Start a monitor; the Popen when it is this process's child (to reap), else None."""
        for _ in range(2):
            server = self._forkserver_socket()
            if server is None:
                break
            try:
                return None, monitor.spawn_forked(server, opts, stderr=stderr)
            except (OSError, ValueError):
                self._forkserver = None  # gone or broken: start another, once
        return monitor.spawn(opts, stderr=stderr)

    def wait(self, files: MonitorFiles) -> MonitorState:
        return monitor.wait(files)

    def control(self, files: MonitorFiles, op: str, **fields: Any) -> None:
        monitor.control(files, op, **fields)

    def alive(self, state: MonitorState) -> bool:
        return monitor.monitor_alive(state)

    def close(self) -> None:
        if self._forkserver is not None:
            self._forkserver.kill()
            self._forkserver.wait()
            self._forkserver = None

    def _forkserver_socket(self) -> Path | None:
        path = self.paths.run_dir / "monitors.sock"
        if self._forkserver is not None and self._forkserver.poll() is None:
            return path
        self._stop_stale_forkserver()
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        self._forkserver = self._start_forkserver(path)
        deadline = time.monotonic() + FORKSERVER_START_TIMEOUT
        while not path.exists():
            if self._forkserver.poll() is not None or time.monotonic() > deadline:
                self._forkserver = None
                return None
            time.sleep(0.005)
        return path

    def _start_forkserver(self, path: Path) -> Popen[bytes]:
        with private.open_append(self.paths.root / "forkserver.log") as log:
            server = Popen(
                [sys.executable, "-m", "lamina.containers.monitor.forkserver", str(path)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
                cwd="/",
            )
        (self.paths.run_dir / "forkserver.pid").write_text(str(server.pid))
        return server

    def _stop_stale_forkserver(self) -> None:
        """A crashed daemon's fork server: stop it (its monitors are not its children)."""
        with contextlib.suppress(OSError, ValueError):
            pid = int((self.paths.run_dir / "forkserver.pid").read_text())
            if process.runs(pid, b"monitor.forkserver"):
                os.kill(pid, signal.SIGKILL)
