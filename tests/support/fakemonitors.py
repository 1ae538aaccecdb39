"""The `Monitors` (lamina.containers.supervision) of a FakeRuntime: each monitor a
thread of the test's process, which records the states a real monitor would write."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen
from typing import Any

from lamina.containers.monitor.options import Options
from lamina.containers.state import MonitorFiles, State, Status, write_state
from lamina.errors import Conflict
from lamina.runtime.protocol import RuntimeFailure
from lamina.timestamps import rfc3339
from tests.support.fakeruntime import FakeProcess, FakeRuntime


@dataclass
class Supervised:
    """One fake monitor: what it watches, and its last state."""

    opts: Options
    files: MonitorFiles
    state: State
    process: FakeProcess | None = None
    done: threading.Event = field(default_factory=threading.Event)


class FakeMonitors:
    """The `Monitors` (lamina.containers.supervision) of a FakeRuntime: each monitor a
    thread, which records the state a real monitor would write."""

    def __init__(self, runtime: FakeRuntime) -> None:
        self.runtime = runtime
        self.closed = threading.Event()

    def start(self, opts: Options, stderr: Path) -> tuple[Popen[bytes] | None, State]:
        files = MonitorFiles(opts.state_dir, opts.exec_id)
        m = Supervised(opts, files, State(Status.CREATED))
        with self.runtime.lock:
            self.runtime.supervised[files.state] = m
        try:
            if not opts.is_exec:
                assert opts.bundle is not None
                self.runtime.create(opts.id, opts.bundle, pid_file=files.pid_file)
                m.process = self.runtime.process(opts.id)
                m.state = State(Status.CREATED, pid=m.process.pid)
            if opts.wait_attach:
                self._publish(m, m.state)
            else:
                self._launch(m)
        except RuntimeFailure as err:
            failed = State(Status.CREATE_FAILED, finished_at=rfc3339(time.time()),
                           exit_code=err.exit_code, error=str(err))  # fmt: skip
            self._publish(m, failed)
            m.done.set()
        return None, m.state

    def wait(self, files: MonitorFiles) -> State:
        m = self._find(files)
        while not m.done.wait(0.02):
            if self.closed.is_set():
                # The daemon is gone, and its waiting threads with it; the monitors
                # (and the runtime) live on for the next engine to adopt.
                raise SystemExit
        return m.state

    def control(self, files: MonitorFiles, op: str, **fields: Any) -> None:
        m = self._find(files)
        if op == "start" and m.state.status == Status.CREATED:
            self._launch(m)
        elif m.done.is_set():
            raise Conflict(f"the monitor of {m.opts.id} has ended")

    def alive(self, state: State) -> bool:
        with self.runtime.lock:
            return any(m.state == state and not m.done.is_set() for m in self._all())

    def close(self) -> None:
        self.closed.set()

    def _all(self) -> list[Supervised]:
        return list(self.runtime.supervised.values())

    def _find(self, files: MonitorFiles) -> Supervised:
        with self.runtime.lock:
            m = self.runtime.supervised.get(files.state)
        if m is None:
            raise ConnectionRefusedError(f"no monitor at {files.state}")
        return m

    def _launch(self, m: Supervised) -> None:
        opts = m.opts
        if opts.is_exec:
            assert opts.exec_process is not None
            process = json.loads(opts.exec_process.read_text())
            self.runtime.exec(opts.id, process, pid_file=m.files.pid_file)
            m.process = self.runtime.containers[opts.id].execs[-1]
        else:
            self.runtime.start(opts.id, pid=m.state.pid)
        assert m.process is not None
        self._publish(m, State(Status.RUNNING, pid=m.process.pid, started_at=rfc3339(time.time())))
        threading.Thread(target=self._follow, args=(m,), daemon=True).start()

    def _follow(self, m: Supervised) -> None:
        assert m.process is not None
        m.process.ended.wait()
        final = m.state._replace(
            status=Status.EXITED, exit_code=m.process.exit_code, finished_at=rfc3339(time.time())
        )
        self._publish(m, final)  # published first, as the real monitor does, then deleted
        if not m.opts.is_exec:
            self.runtime.delete(m.opts.id, force=True)
        m.done.set()

    def _publish(self, m: Supervised, state: State) -> None:
        m.state = state
        write_state(m.files.state, state)
